package io.sgdpo.prep;

/**
 * A failure of the prep job that the user must act on (unreadable input, too many rejects). The
 * CLI prints its message and exits non-zero.
 */
public class PrepException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public PrepException(String message) {
        super(message);
    }

    public PrepException(String message, Throwable cause) {
        super(message, cause);
    }
}
