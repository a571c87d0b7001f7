package org.memreg.monitor;

/**
 * Whether a {@link MonitorMode} works in this process, and if not, why (for {@code memreg info}
 * and logs).
 *
 * @param mode      the mode
 * @param available true when opening it here succeeds
 * @param detail    what {@code auto} picks and what the mode costs the process beyond time, or why
 *                  the mode is unavailable; empty when there is nothing to say
 */
public record MonitorSupport(MonitorMode mode, boolean available, String detail) {
}
