package io.sgdpo.config;

/**
 * A configuration problem a user must fix: an unknown key, a value of the wrong type or range, or
 * a config file that cannot be read. The message always names the offending key or file.
 */
public class ConfigurationException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public ConfigurationException(String message) {
        super(message);
    }

    public ConfigurationException(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * Throws a ConfigurationException with {@code message} unless {@code ok}: the one check every
     * settings reader uses.
     */
    public static void require(boolean ok, String message) {
        if (!ok) {
            throw new ConfigurationException(message);
        }
    }
}
