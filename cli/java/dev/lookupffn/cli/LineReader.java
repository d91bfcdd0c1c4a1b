package dev.lookupffn.cli;

import java.io.IOException;
import java.io.Reader;

/**
 * Lines split at {@code \n} only, a {@code \r} right before it dropped: one input line is one record, as for
 * {@code wc -l}, whatever other line breaks ({@code \r}, U+0085, U+2028) the text holds. {@link
 * java.io.BufferedReader#readLine} also splits at a lone {@code \r}, which would give more output lines than input
 * lines.
 */
final class LineReader {
    private final Reader in;
    private final char[] buf = new char[8192];
    private int pos, end;
    private final StringBuilder line = new StringBuilder();

    LineReader(Reader in) {
        this.in = in;
    }

    /** The next line without its {@code \n} or {@code \r\n}, or null at the end; a last line without {@code \n} counts. */
    String readLine() throws IOException {
        line.setLength(0);
        boolean any = false;
        while (true) {
            if (pos == end) {
                end = in.read(buf, 0, buf.length);
                pos = 0;
                if (end <= 0) {
                    end = 0;
                    return any ? line.toString() : null; // a \r at the very end is not part of a \r\n
                }
            }
            any = true;
            int start = pos;
            while (pos < end && buf[pos] != '\n') pos++;
            line.append(buf, start, pos - start);
            if (pos < end) {
                pos++; // the \n
                return stripCr();
            }
        }
    }

    private String stripCr() {
        int n = line.length();
        if (n > 0 && line.charAt(n - 1) == '\r') line.setLength(n - 1);
        return line.toString();
    }
}
