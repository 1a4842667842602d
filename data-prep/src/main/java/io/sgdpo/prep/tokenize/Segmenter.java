package io.sgdpo.prep.tokenize;

import java.util.List;

/**
 * Splits text into the pieces of a base tokenizer, losslessly: the UTF-8 bytes of the pieces,
 * concatenated, are exactly the UTF-8 bytes of the text.
 *
 * <p>A piece is returned as a "byte string": a String whose every char is one byte (0..255), i.e.
 * the piece's UTF-8 bytes decoded as ISO-8859-1. A byte-level BPE token can end inside a UTF-8
 * sequence, so a piece is not always valid text on its own; byte strings are still cheap to hash
 * and compare, which is all the vocabulary needs.
 */
public interface Segmenter {

    /** The pieces of {@code text}, in order, as byte strings. */
    List<String> segment(String text);
}
