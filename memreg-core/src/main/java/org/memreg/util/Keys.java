package org.memreg.util;

import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;

/**
 * Unguessable 64-bit keys for registrations. A DRBG {@link SecureRandom}, seeded from the
 * operating system's entropy, so that a peer who saw earlier keys cannot predict the next one
 * (a plain PRNG seeded from SecureRandom could be). Thread safe; devices check uniqueness.
 */
public final class Keys {
    private static final SecureRandom RANDOM = create();

    private Keys() {
    }

    /** A random key, never 0 (0 reads as "no key" in logs and wire formats). */
    public static long next() {
        long key;
        do {
            key = RANDOM.nextLong();
        } while (key == 0);
        return key;
    }

    private static SecureRandom create() {
        try {
            return SecureRandom.getInstance("DRBG");
        } catch (NoSuchAlgorithmException e) {
            return new SecureRandom();
        }
    }
}
