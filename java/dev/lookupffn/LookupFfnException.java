package dev.lookupffn;

/**
 * Every error the library reports on purpose. Subclasses say what kind: {@link FormatException} (a file or
 * text is not what it claims), {@link ShapeException} (sizes, shapes or arguments that do not fit), and
 * {@link NativeException} (a native kernel returned an error status).
 */
public class LookupFfnException extends RuntimeException {
    public LookupFfnException(String message) {
        super(message);
    }

    public LookupFfnException(String message, Throwable cause) {
        super(message, cause);
    }

    /** A file or document is malformed: the message names the file and what is wrong. */
    public static final class FormatException extends LookupFfnException {
        public FormatException(String message) {
            super(message);
        }

        public FormatException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** A shape, size, dtype or argument does not fit: the message names the tensor and expected vs actual. */
    public static final class ShapeException extends LookupFfnException {
        public ShapeException(String message) {
            super(message);
        }
    }

    /** A native kernel returned a non-zero {@code lffn_status_t}. */
    public static final class NativeException extends LookupFfnException {
        private final int status;

        public NativeException(String function, int status, String statusText) {
            super(function + " failed: " + statusText + " (status " + status + ")");
            this.status = status;
        }

        public int status() {
            return status;
        }
    }
}
