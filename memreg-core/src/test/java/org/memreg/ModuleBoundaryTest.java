package org.memreg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.lang.module.ModuleReader;
import java.lang.reflect.Executable;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Member;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.WildcardType;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.memreg.cache.RegistrationCache;

/**
 * memreg-core's module boundary, read from its compiled descriptor: the API packages are
 * exported, the bindings and helpers are not (only to memreg's own tools), and no public
 * signature of an exported package names an internal type, so a user on the module path can
 * call everything the API shows.
 */
class ModuleBoundaryTest {
    private static final Set<String> API = Set.of("org.memreg.cache", "org.memreg.device", "org.memreg.memory",
            "org.memreg.monitor", "org.memreg.numa", "org.memreg.odp", "org.memreg.stat", "org.memreg.transport");
    private static final Map<String, Set<String>> QUALIFIED = Map.of(
            "org.memreg.config", Set.of("org.memreg.cli"),
            "org.memreg.linux", Set.of("org.memreg.cli", "org.memreg.jmh"),
            "org.memreg.ucx", Set.of("org.memreg.cli", "org.memreg.jmh"));
    private static final Set<String> INTERNAL = Set.of("org.memreg.config", "org.memreg.jfr", "org.memreg.linux",
            "org.memreg.ucx", "org.memreg.util");

    private static final ModuleDescriptor CORE = descriptor();

    private static ModuleDescriptor descriptor() {
        return ModuleFinder.of(location()).find("org.memreg.core").orElseThrow(
                () -> new AssertionError("no module org.memreg.core in " + location())).descriptor();
    }

    /** memreg-core's classes: a directory in the build, a jar elsewhere. */
    private static Path location() {
        try {
            return Path.of(RegistrationCache.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void shouldExportTheApiAndOnlyQualifyTheBindings() {
        Set<String> unqualified = new TreeSet<>();
        Map<String, Set<String>> qualified = new TreeMap<>();
        for (ModuleDescriptor.Exports export : CORE.exports()) {
            if (export.isQualified()) {
                qualified.put(export.source(), export.targets());
            } else {
                unqualified.add(export.source());
            }
        }
        assertEquals(new TreeSet<>(API), unqualified, "packages exported to everyone");
        assertEquals(new TreeMap<>(QUALIFIED), qualified, "packages exported to memreg's own tools only");
        assertTrue(CORE.opens().isEmpty(), "nothing is open to reflection: " + CORE.opens());
        Set<String> unplaced = new TreeSet<>(CORE.packages());
        unplaced.removeAll(API);
        unplaced.removeAll(INTERNAL);
        assertTrue(unplaced.isEmpty(), "a new package must be placed in the API or kept internal: " + unplaced);
    }

    @Test
    void shouldShowNoInternalTypeInTheApi() throws IOException {
        List<String> leaks = new ArrayList<>();
        for (Class<?> type : apiTypes()) {
            check(type, "extends", type.getGenericSuperclass(), leaks);
            for (Type implemented : type.getGenericInterfaces()) {
                check(type, "implements", implemented, leaks);
            }
            for (Field field : type.getDeclaredFields()) {
                if (visible(field)) {
                    check(type, field.getName(), field.getGenericType(), leaks);
                }
            }
            List<Executable> executables = new ArrayList<>(List.of(type.getDeclaredConstructors()));
            executables.addAll(List.of(type.getDeclaredMethods()));
            for (Executable executable : executables) {
                if (!visible(executable) || executable.isSynthetic()) {
                    continue;
                }
                if (executable instanceof Method method) {
                    check(type, method.getName() + "()", method.getGenericReturnType(), leaks);
                }
                for (Type parameter : executable.getGenericParameterTypes()) {
                    check(type, executable.getName() + "(...)", parameter, leaks);
                }
                for (Type thrown : executable.getGenericExceptionTypes()) {
                    check(type, executable.getName() + " throws", thrown, leaks);
                }
            }
        }
        assertTrue(leaks.isEmpty(), "the API names internal types:\n" + String.join("\n", leaks));
    }

    /** The public types (top-level and nested, reachable from outside) of the exported packages. */
    private static List<Class<?>> apiTypes() throws IOException {
        List<Class<?>> types = new ArrayList<>();
        try (ModuleReader reader = ModuleFinder.of(location()).find(CORE.name()).orElseThrow().open()) {
            for (String name : reader.list().filter(n -> n.endsWith(".class")).collect(Collectors.toList())) {
                String className = name.substring(0, name.length() - ".class".length()).replace('/', '.');
                int dot = className.lastIndexOf('.');
                if (dot < 0 || !API.contains(className.substring(0, dot))) {
                    continue;
                }
                Class<?> type = load(className);
                if (reachable(type)) {
                    types.add(type);
                }
            }
        }
        assertTrue(types.size() > 50, "found the API's types: " + types.size());
        return types;
    }

    private static Class<?> load(String name) {
        try {
            return Class.forName(name, false, ModuleBoundaryTest.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new AssertionError(e);
        }
    }

    private static boolean reachable(Class<?> type) {
        for (Class<?> c = type; c != null; c = c.getDeclaringClass()) {
            if (!Modifier.isPublic(c.getModifiers()) || c.isAnonymousClass() || c.isLocalClass() || c.isSynthetic()) {
                return false;
            }
        }
        return true;
    }

    private static boolean visible(Member member) {
        int modifiers = member.getModifiers();
        boolean subclassable = !Modifier.isFinal(member.getDeclaringClass().getModifiers());
        return Modifier.isPublic(modifiers) || (subclassable && Modifier.isProtected(modifiers));
    }

    private static void check(Class<?> owner, String where, Type type, List<String> leaks) {
        switch (type) {
            case null -> { }
            case Class<?> c when c.isArray() -> check(owner, where, c.getComponentType(), leaks);
            case Class<?> c -> {
                if (c.getPackage() != null && INTERNAL.contains(c.getPackageName())) {
                    leaks.add(owner.getName() + " " + where + ": " + c.getName());
                }
            }
            case ParameterizedType p -> {
                check(owner, where, p.getRawType(), leaks);
                for (Type argument : p.getActualTypeArguments()) {
                    check(owner, where, argument, leaks);
                }
            }
            case GenericArrayType a -> check(owner, where, a.getGenericComponentType(), leaks);
            case WildcardType w -> {
                for (Type bound : w.getUpperBounds()) {
                    check(owner, where, bound, leaks);
                }
                for (Type bound : w.getLowerBounds()) {
                    check(owner, where, bound, leaks);
                }
            }
            default -> { } // type variables: their bounds are checked where they are declared
        }
    }
}
