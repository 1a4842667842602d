package io.sgdpo.prep;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.text.Normalizer;
import java.util.HexFormat;

/**
 * Content identity of a pair, and the train/eval split derived from it.
 *
 * <p>The id is the first 128 bits of SHA-256 over the normalized prompt, chosen and rejected,
 * separated by NUL. Normalization (Unicode NFC, CRLF to LF, surrounding whitespace stripped) only
 * feeds the hash; stored token ids always spell the original text.
 */
public final class PairId {

    private PairId() {
    }

    /** Text as compared for identity: NFC, LF line ends, no surrounding whitespace. */
    public static String normalize(String s) {
        return Normalizer.normalize(s, Normalizer.Form.NFC).replace("\r\n", "\n").strip();
    }

    /** 32 hex chars identifying the pair's content. */
    public static String of(String prompt, String chosen, String rejected) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(normalize(prompt).getBytes(StandardCharsets.UTF_8));
            md.update((byte) 0);
            md.update(normalize(chosen).getBytes(StandardCharsets.UTF_8));
            md.update((byte) 0);
            md.update(normalize(rejected).getBytes(StandardCharsets.UTF_8));
            byte[] d = md.digest();
            return HexFormat.of().formatHex(d, 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * "eval" when the id's first 64 bits, read as a fraction of 2^64, fall below
     * {@code evalFraction}; "train" otherwise. Depends on nothing but the id.
     */
    public static String split(String pairId, double evalFraction) {
        long bits = Long.parseUnsignedLong(pairId.substring(0, 16), 16);
        double u = (bits >>> 11) * 0x1.0p-53;
        return u < evalFraction ? PairSchema.EVAL : PairSchema.TRAIN;
    }
}
