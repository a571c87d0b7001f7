package org.memreg.transport;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Set;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The shared secret nodes prove to each other in the handshake: HMAC-SHA-256 over a label naming
 * the step and side, and the fields both sides saw (their nonces and node ids), so a proof is good
 * for one side of one handshake only. Checked in constant time. Also the token UCX's TCP
 * connections between such nodes open with ({@link #tcpToken}).
 */
final class Secret {
    /** Bytes of a proof. */
    static final int PROOF_BYTES = 32;
    private static final int MIN_BYTES = 16;
    private static final String TCP_TOKEN_LABEL = "memreg ucx tcp token v1";
    private static final int TCP_TOKEN_BYTES = 16;

    private final SecretKeySpec key;

    private Secret(byte[] bytes) {
        if (bytes.length < MIN_BYTES) {
            throw new IllegalArgumentException("a transport secret needs at least " + MIN_BYTES + " bytes, got "
                    + bytes.length);
        }
        this.key = new SecretKeySpec(bytes, "HmacSHA256");
    }

    /** A secret from its text (UTF-8). */
    static Secret of(String text) {
        return new Secret(text.getBytes(StandardCharsets.UTF_8));
    }

    /** A secret from raw bytes. */
    static Secret of(byte[] bytes) {
        return new Secret(bytes.clone());
    }

    /**
     * A secret from a file that only its owner may read or write (no group or other permission
     * bits), with trailing white space dropped.
     *
     * @throws IllegalArgumentException when the file is missing, unreadable, too permissive or too short
     */
    static Secret fromFile(Path file) {
        try {
            Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(file, LinkOption.NOFOLLOW_LINKS);
            for (PosixFilePermission p : permissions) {
                if (!p.name().startsWith("OWNER")) {
                    throw new IllegalArgumentException("transport secret file " + file + " is accessible to others ("
                            + java.nio.file.attribute.PosixFilePermissions.toString(permissions)
                            + "): make it readable by its owner only (chmod 600)");
                }
            }
            byte[] bytes = Files.readAllBytes(file);
            int end = bytes.length;
            while (end > 0 && Character.isWhitespace(bytes[end - 1])) {
                end--;
            }
            return new Secret(Arrays.copyOf(bytes, end));
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read transport secret file " + file + ": " + e, e);
        }
    }

    /** The proof of {@code label} over {@code fields}. */
    byte[] proof(String label, byte[]... fields) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(key);
            mac.update(label.getBytes(StandardCharsets.US_ASCII));
            for (byte[] field : fields) {
                mac.update(ByteBuffer.allocate(4).putInt(field.length).array()); // no two splits give one input
                mac.update(field);
            }
            return mac.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
        }
    }

    /**
     * The 16 bytes a TCP connection to a UCX listener of a node with this secret opens with ({@code
     * UcxWorker.requireTcpToken}): the same for every connection, so it tells the node a peer
     * holds the secret without telling anyone the secret; it keeps strangers off the port, not
     * someone who reads the network.
     */
    byte[] tcpToken() {
        return Arrays.copyOf(proof(TCP_TOKEN_LABEL), TCP_TOKEN_BYTES);
    }

    /** True when {@code proof} is the proof of {@code label} over {@code fields} (constant time). */
    boolean verify(byte[] proof, String label, byte[]... fields) {
        return MessageDigest.isEqual(proof, proof(label, fields));
    }

    @Override
    public String toString() {
        return "Secret[hidden]";
    }
}
