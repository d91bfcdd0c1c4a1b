package dev.lookupffn.cli;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * For LayerCommandTest, in a child JVM: runs the CLI with {@code args[1..]}, truncating the file {@code args[0]} to
 * zero bytes (as any in-place writer does first) after the CLI opened its files and before the layer runs.
 */
public final class TruncatingLayerMain {
    public static void main(String[] args) {
        Path victim = Path.of(args[0]);
        LayerCommand.afterFilesOpened = () -> {
            try (FileChannel ch = FileChannel.open(victim, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                System.err.println("truncated " + victim + " to " + ch.size() + " bytes");
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        };
        Main.main(Arrays.copyOfRange(args, 1, args.length));
    }
}
