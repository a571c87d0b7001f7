package org.memreg.jmh;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * {@link PingPongBenchmark}'s round trips, in turn in short rounds in one JVM, each variant's time
 * a ratio to the floor's in the same round: on a machine whose speed changes from second to
 * second (this one's), a variant and the floor then share each slow or fast spell, where JMH runs
 * one benchmark after the other for seconds each.
 *
 * <pre>PingPongRounds [ROUNDS [ROUND_TRIPS_PER_ROUND [VARIANTS]]]   default 200 rounds of 20,000, every variant</pre>
 *
 * <p>VARIANTS is a regular expression the variants' names must contain (the floor always runs).
 * Prints, per variant, the median ns per round trip and the median of its per-round ratios to
 * the floor, with their quartiles.
 */
public final class PingPongRounds {
    private PingPongRounds() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 200;
        int perRound = args.length > 1 ? Integer.parseInt(args[1]) : 20_000;
        Pattern only = Pattern.compile(args.length > 2 ? args[2] : "");
        PingPongBenchmark bench = new PingPongBenchmark();
        PingPongBenchmark.Bare bare = new PingPongBenchmark.Bare();
        bare.setUp();
        Map<String, PingPongBenchmark.Nodes> nodes = new LinkedHashMap<>();
        for (boolean thread : new boolean[] {true, false}) {
            PingPongBenchmark.Nodes pair = new PingPongBenchmark.Nodes();
            pair.progressThread = thread;
            pair.setUp();
            nodes.put("progressThread=" + thread, pair);
        }
        Map<String, Variant> variants = new LinkedHashMap<>();
        variants.put("floor", () -> bench.floor(bare));
        for (var e : nodes.entrySet()) {
            variants.put("futures/" + e.getKey(), () -> bench.futures(e.getValue()));
            variants.put("sendCopy/" + e.getKey(), () -> bench.sendCopy(e.getValue()));
        }
        variants.keySet().removeIf(name -> !name.equals("floor") && !only.matcher(name).find());
        Map<String, double[]> nanos = new LinkedHashMap<>();
        variants.keySet().forEach(k -> nanos.put(k, new double[rounds]));
        for (int warm = 0; warm < 20; warm++) {
            for (Variant v : variants.values()) {
                time(v, perRound);
            }
        }
        for (int r = 0; r < rounds; r++) {
            for (var e : variants.entrySet()) {
                nanos.get(e.getKey())[r] = time(e.getValue(), perRound);
            }
        }
        double[] floor = nanos.get("floor");
        System.out.printf("# %d rounds of %d round trips; ns per round trip (median), ratio to the floor in the same round%n",
                rounds, perRound);
        for (var e : nanos.entrySet()) {
            double[] ratios = new double[rounds];
            for (int r = 0; r < rounds; r++) {
                ratios[r] = e.getValue()[r] / floor[r];
            }
            System.out.printf("%-30s %8.1f ns   ratio %.2f (quartiles %.2f-%.2f)%n", e.getKey(),
                    quantile(e.getValue(), 0.5), quantile(ratios, 0.5), quantile(ratios, 0.25), quantile(ratios, 0.75));
        }
        for (PingPongBenchmark.Nodes pair : nodes.values()) {
            pair.tearDown();
        }
        bare.tearDown();
    }

    private interface Variant {
        long roundTrip() throws Exception;
    }

    /** Nanoseconds per round trip over {@code count} of them (each one's downcalls keep it from being optimized away). */
    private static double time(Variant variant, int count) throws Exception {
        long start = System.nanoTime();
        for (int i = 0; i < count; i++) {
            variant.roundTrip();
        }
        return (double) (System.nanoTime() - start) / count;
    }

    static double quantile(double[] values, double q) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[(int) Math.round(q * (sorted.length - 1))];
    }
}
