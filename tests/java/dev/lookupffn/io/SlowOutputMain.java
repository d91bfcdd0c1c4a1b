package dev.lookupffn.io;

import java.nio.ByteBuffer;
import java.nio.file.Path;

/** For OutputFileTest: starts writing {@code args[0]}, prints {@link #READY}, then blocks mid-write until killed. */
public final class SlowOutputMain {
    static final String READY = "writing";

    public static void main(String[] args) throws Exception {
        OutputFile.write(Path.of(args[0]), out -> {
            ByteBuffer chunk = ByteBuffer.allocateDirect(1 << 20);
            for (int i = 0; i < 16; i++) {
                out.write(chunk);
                chunk.clear();
            }
            System.out.println(READY);
            System.out.flush();
            try {
                Thread.sleep(Long.MAX_VALUE);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }
}
