package dev.lookupffn.jmh;

import dev.lookupffn.ffi.Kernels;
import dev.lookupffn.ffi.gen.lookupffn_h;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** The cost of one empty FFM downcall: through the generated binding, and through the checked facade. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class DowncallBench {
    @Setup
    public void load() {
        Kernels.noop(); // loads the library
    }

    @Benchmark
    public int emptyDowncallBinding() {
        return lookupffn_h.lffn_noop();
    }

    @Benchmark
    public void emptyDowncallFacade() {
        Kernels.noop();
    }
}
