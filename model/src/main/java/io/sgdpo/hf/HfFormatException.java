package io.sgdpo.hf;

import java.io.IOException;

/**
 * A Hugging Face model folder that cannot be imported as it is: a missing or malformed file, a
 * configuration this project does not implement, tensors that disagree with it. The message names
 * the file and the fault.
 */
public class HfFormatException extends IOException {

    private static final long serialVersionUID = 1L;

    public HfFormatException(String message) {
        super(message);
    }

    public HfFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
