package dev.lookupffn.cli;

import dev.lookupffn.ffi.Kernels;
import dev.lookupffn.ffi.NativeLibrary;
import dev.lookupffn.parallel.WorkerPool;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "info", description = "Print the library version, CPU ISA, threads and native library path.")
final class InfoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--verbose", description = "Show stack traces on errors.")
    boolean verbose;

    @Override
    public Integer call() {
        var out = spec.commandLine().getOut();
        out.printf("lookupffn %s%n", Kernels.version());
        out.printf("native library: %s%n", NativeLibrary.load());
        out.printf("cpu isa:        %s%n", Kernels.cpuIsa());
        out.printf("effective isa:  %s%n", Kernels.effectiveIsa());
        out.printf("threads:        %d (-D%s)%n", WorkerPool.defaultThreads(), WorkerPool.THREADS_PROPERTY);
        out.printf("java:           %s %s%n", System.getProperty("java.vm.name"), Runtime.version());
        out.printf("os:             %s %s %s%n", System.getProperty("os.name"), System.getProperty("os.version"),
                System.getProperty("os.arch"));
        return 0;
    }
}
