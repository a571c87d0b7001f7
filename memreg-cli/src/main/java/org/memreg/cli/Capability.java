package org.memreg.cli;

/**
 * One row of {@code memreg info}: whether a capability works here, and the detail that says why
 * (not) or how much.
 *
 * @param works  {@link Works#YES}, {@link Works#NO}, or {@link Works#FACT} for a plain value
 * @param detail what was found, why it does not work, how to change it
 */
record Capability(Works works, String detail) {
    /** The "works" column. */
    enum Works {
        YES("yes"), NO("no"), FACT("-");

        private final String text;

        Works(String text) {
            this.text = text;
        }

        /** How the column shows it. */
        String text() {
            return text;
        }
    }

    static Capability yes(String detail) {
        return new Capability(Works.YES, detail);
    }

    static Capability no(String detail) {
        return new Capability(Works.NO, detail);
    }

    static Capability fact(String detail) {
        return new Capability(Works.FACT, detail);
    }

    /** {@link #yes} when {@code works}, else {@link #no}. */
    static Capability of(boolean works, String detail) {
        return new Capability(works ? Works.YES : Works.NO, detail);
    }
}
