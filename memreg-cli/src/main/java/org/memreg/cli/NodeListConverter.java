package org.memreg.cli;

import org.memreg.numa.NodeSet;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * Parses {@code migrate}'s node lists, so a bad one is a usage error. The lists are sets, as
 * {@code migrate_pages(2)} and {@code migratepages(8)} take them: the n-th lowest node of
 * {@code --from} goes to the n-th lowest of {@code --to}. A list written out of ascending order
 * ({@code --to 1,0}) reads like an ordered remap such as a swap, which a set cannot say and
 * whole-node moves cannot do in one pass, so it is refused rather than silently sorted.
 */
final class NodeListConverter implements ITypeConverter<NodeSet> {
    @Override
    public NodeSet convert(String value) {
        NodeSet set;
        try {
            set = NodeSet.parse(value);
        } catch (IllegalArgumentException e) {
            throw new TypeConversionException(e.getMessage());
        }
        if (set.isEmpty()) {
            throw new TypeConversionException("empty node list (expected nodes such as 0-3 or 0,2)");
        }
        int previous = -1;
        for (String element : value.split(",")) {
            NodeSet part = NodeSet.parse(element);
            if (part.nth(0) <= previous) {
                throw new TypeConversionException("\"" + value + "\" is not in ascending order. Node lists are sets, as"
                        + " for migrate_pages(2): \"" + value + "\" means \"" + set + "\", and the n-th lowest node of"
                        + " --from goes to the n-th lowest of --to. An ordered remap such as a swap (0,1 to 1,0) is a"
                        + " ring that whole-node moves cannot do in one pass; go through a spare node instead"
                        + " (--from 0 --to 2, then --from 1 --to 0, then --from 2 --to 1)");
            }
            previous = part.nth(part.size() - 1);
        }
        return set;
    }
}
