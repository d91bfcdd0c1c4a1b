package dev.lookupffn.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lookupffn.io.OutputFile;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.channels.Channels;
import java.nio.file.Path;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;

/** Writes a benchmark result as a table, as JSON and as a PNG bar chart. */
public final class BenchReport {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private BenchReport() {}

    public static void printTable(FfnBenchmark.Result r, PrintWriter out) {
        var c = r.config();
        out.printf("LookupFFN vs dense FFN: %d tokens, d %d, FFN %d, %d tables x %d rows (tau %d), BH4 block %d, %d thread(s)%n",
                c.tokens(), c.dim(), c.ffn(), c.tables(), 1L << c.tau(), c.tau(), c.block(), c.threads());
        out.printf("%s | %s | oneDNN %s (OMP_WAIT_POLICY %s) | %s%n", r.machine().get("cpu"), r.machine().get("isa"),
                r.machine().get("onednn"), r.machine().get("omp_wait_policy"), r.machine().get("jdk"));
        out.printf("median of %d interleaved repetitions after %d warm-up%n%n", c.repetitions(), c.warmup());
        out.printf("%-18s %-5s %10s %10s %10s %12s %9s %12s %11s%n", "name", "dtype", "median s", "min s", "max s", "tokens/s",
                "GFLOP/s", "vs oneDNN", "tables MiB");
        for (var row : r.rows())
            out.printf("%-18s %-5s %10s %10s %10s %12.0f %9.1f %12s %11s%n", row.name(), row.dtype(), seconds(row.medianS()),
                    seconds(row.minS()), seconds(row.maxS()), row.tokensPerS(), row.gflopPerS(),
                    Double.isNaN(row.speedupVsOnednn()) ? "-" : String.format("%.2fx", row.speedupVsOnednn()),
                    row.tableBytes() < 0 ? "-" : String.format("%.2f", row.tableBytes() / (double) (1 << 20)));
        var f32 = r.row("lookupffn");
        boolean first = true;
        for (String compact : List.of("lookupffn-bf16", "lookupffn-int8")) {
            var row = r.row(compact);
            if (f32 == null || row == null) continue;
            if (first) out.println();
            first = false;
            out.printf("%s is %.2fx the fp32 lookupffn%n", compact, f32.medianS() / row.medianS());
        }
        for (String w : r.warnings()) out.println("warning: " + w);
        out.flush();
    }

    public static void printScaling(List<ScalingSweep.Point> points, PrintWriter out) {
        out.printf("%nscaling (median of short interleaved runs):%n%-8s %8s %-14s %10s %12s%n", "sweep", "value", "name",
                "median s", "tokens/s");
        for (var p : points)
            out.printf("%-8s %8d %-14s %10s %12.0f%n", p.sweep(), p.value(), p.name(), seconds(p.medianS()), p.tokensPerS());
        out.flush();
    }

    public static void addScaling(ObjectNode json, List<ScalingSweep.Point> points) {
        ArrayNode arr = json.putArray("scaling");
        for (var p : points)
            arr.addObject().put("sweep", p.sweep()).put("value", p.value()).put("name", p.name())
                    .put("median_s", p.medianS()).put("tokens_per_s", p.tokensPerS());
    }

    /** One line chart per sweep (tokens/s against threads, tokens and tables), side by side in one PNG. */
    public static void writeScalingChart(List<ScalingSweep.Point> points, Path path) throws IOException {
        System.setProperty("java.awt.headless", "true");
        List<org.knowm.xchart.XYChart> charts = new java.util.ArrayList<>();
        for (String sweep : List.of("threads", "tokens", "tables")) {
            var chart = new org.knowm.xchart.XYChartBuilder().width(480).height(360).title("tokens/s vs " + sweep)
                    .xAxisTitle(sweep).yAxisTitle("tokens / s").build();
            if (!sweep.equals("threads")) chart.getStyler().setXAxisLogarithmic(true);
            chart.getStyler().setDecimalPattern("#,###");
            chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
            for (String name : points.stream().filter(p -> p.sweep().equals(sweep)).map(ScalingSweep.Point::name).distinct().toList()) {
                var pts = points.stream().filter(p -> p.sweep().equals(sweep) && p.name().equals(name)).toList();
                chart.addSeries(name, pts.stream().map(p -> (double) p.value()).toList(),
                        pts.stream().map(ScalingSweep.Point::tokensPerS).toList());
            }
            charts.add(chart);
        }
        OutputFile.write(path, out -> BitmapEncoder.saveBitmap(charts, 1, charts.size(), Channels.newOutputStream(out),
                BitmapEncoder.BitmapFormat.PNG));
    }

    public static void printKernels(KernelBreakdown.Result k, PrintWriter out) {
        var c = k.ceilings();
        out.printf("%nceilings measured in this run: GEMM %.0f GFLOP/s; read bandwidth L2 %.0f, L3 %.0f, DRAM %.0f GB/s%n",
                c.get("gemm_gflop_per_s"), c.get("l2_read_gb_per_s"), c.get("l3_read_gb_per_s"),
                c.get("dram_read_gb_per_s"));
        out.printf("%-18s %10s %9s %8s %9s %8s %8s%n", "kernel", "median s", "GFLOP/s", "of GEMM", "GB/s", "of L2", "of DRAM");
        for (var kn : k.kernels())
            out.printf("%-18s %10s %9.1f %7.0f%% %9.1f %7.0f%% %7.0f%%%n", kn.name(), seconds(kn.seconds()), kn.gflopPerS(),
                    100 * kn.gflopPerS() / c.get("gemm_gflop_per_s"), kn.gbPerS(), 100 * kn.gbPerS() / c.get("l2_read_gb_per_s"),
                    100 * kn.gbPerS() / c.get("dram_read_gb_per_s"));
        out.flush();
    }

    public static void addKernels(ObjectNode json, KernelBreakdown.Result k) {
        ObjectNode node = json.putObject("kernels");
        ObjectNode ceilings = node.putObject("ceilings");
        k.ceilings().forEach(ceilings::put);
        ArrayNode rows = node.putArray("rows");
        for (var kn : k.kernels())
            rows.addObject().put("name", kn.name()).put("median_s", kn.seconds()).put("flops", kn.flops()).put("bytes", kn.bytes())
                    .put("gflop_per_s", kn.gflopPerS()).put("gb_per_s", kn.gbPerS())
                    .put("fraction_of_gemm_peak", kn.gflopPerS() / k.ceilings().get("gemm_gflop_per_s"))
                    .put("fraction_of_l2_bandwidth", kn.gbPerS() / k.ceilings().get("l2_read_gb_per_s"));
    }

    public static ObjectNode toJson(FfnBenchmark.Result r) {
        ObjectNode root = JSON.createObjectNode();
        var c = r.config();
        ObjectNode config = root.putObject("config");
        config.put("tokens", c.tokens()).put("dim", c.dim()).put("ffn_dim", c.ffn()).put("tables", c.tables())
                .put("table_rows", 1L << c.tau()).put("tau", c.tau()).put("bh4_block", c.block()).put("threads", c.threads())
                .put("repetitions", c.repetitions()).put("warmup", c.warmup()).put("dtypes", c.dtypes()).put("seed", c.seed());
        ObjectNode machine = root.putObject("machine");
        r.machine().forEach((k, v) -> machine.put(k, String.valueOf(v)));
        ArrayNode rows = root.putArray("rows");
        for (var row : r.rows()) {
            ObjectNode o = rows.addObject();
            o.put("name", row.name()).put("dtype", row.dtype()).put("median_s", row.medianS()).put("min_s", row.minS())
                    .put("max_s", row.maxS()).put("tokens_per_s", row.tokensPerS()).put("gflop_per_s", row.gflopPerS());
            if (row.tableBytes() >= 0) o.put("table_bytes", row.tableBytes());
            if (Double.isNaN(row.speedupVsOnednn())) o.putNull("speedup_vs_onednn");
            else o.put("speedup_vs_onednn", row.speedupVsOnednn());
            ArrayNode s = o.putArray("seconds");
            for (double t : row.seconds()) s.add(t);
        }
        ArrayNode warnings = root.putArray("warnings");
        r.warnings().forEach(warnings::add);
        return root;
    }

    /** Writes JSON through {@link OutputFile} (atomic replace, symlinks followed, devices written directly). */
    public static void writeJson(ObjectNode json, Path path) throws IOException {
        OutputFile.write(path, out -> JSON.writeValue(Channels.newOutputStream(out), json));
    }

    /** A bar chart of throughput (tokens/s) per candidate, with the speedup over oneDNN in the title. */
    public static void writeChart(FfnBenchmark.Result r, Path path) throws IOException {
        System.setProperty("java.awt.headless", "true");
        var c = r.config();
        CategoryChart chart = new CategoryChartBuilder().width(900).height(520)
                .title(String.format("LookupFFN vs dense FFN — %d tokens, d %d, %d threads", c.tokens(), c.dim(), c.threads()))
                .xAxisTitle("implementation").yAxisTitle("tokens / s (median)").build();
        chart.getStyler().setLegendVisible(false);
        chart.getStyler().setLabelsVisible(true);
        chart.getStyler().setChartTitleBoxVisible(false);
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
        chart.getStyler().setLabelsFontColorAutomaticEnabled(true);
        chart.getStyler().setDecimalPattern("#,###"); // bar labels and axis: 330,563 rather than 3.3056E5
        List<String> names = r.rows().stream().map(row -> Double.isNaN(row.speedupVsOnednn()) ? row.name()
                : String.format("%s (%.2fx)", row.name(), row.speedupVsOnednn())).toList();
        List<Double> values = r.rows().stream().map(FfnBenchmark.Row::tokensPerS).toList();
        chart.addSeries("tokens/s", names, values);
        OutputFile.write(path, out -> BitmapEncoder.saveBitmap(chart, Channels.newOutputStream(out), BitmapEncoder.BitmapFormat.PNG));
    }

    // ------------------------------------------------------------------------------------------------ encoder

    private static final List<String> STAGE_LABELS = List.of("embeddings", "qkv", "attention", "attention_output", "ffn",
            "final_norm");

    private static String stageLabel(dev.lookupffn.model.TransformerEncoder.Stage s) {
        return STAGE_LABELS.get(s.ordinal());
    }

    /** The encoder table: throughput and speedup, then where a profiled call's time goes, stage by stage. */
    public static void printEncoderTable(EncoderBenchmark.Result r, PrintWriter out) {
        var c = r.config();
        out.printf("Pre-norm encoder: %d x %d tokens (%d), hidden %d, %d heads x %d, %d layers; dense FFN %d; "
                        + "LookupFFN %d tables x %d rows (tau %d), BH4 block %d; %d thread(s)%n", c.batch(), c.seqLen(),
                c.tokens(), c.hidden(), c.heads(), c.headSize(), c.layers(), c.ffn(), c.tables(), 1L << c.tau(), c.tau(),
                c.block(), c.threads());
        out.printf("%s | %s | oneDNN %s (OMP_WAIT_POLICY %s) | %s%n", r.machine().get("cpu"), r.machine().get("isa"),
                r.machine().get("onednn"), r.machine().get("omp_wait_policy"), r.machine().get("jdk"));
        out.printf("median of %d interleaved repetitions after %d warm-up; speedup vs %s%n%n", c.repetitions(), c.warmup(),
                r.denseReference() == null ? "(no dense row)" : r.denseReference());
        out.printf("%-24s %-5s %10s %10s %10s %12s %10s %10s %14s%n", "name", "dtype", "median s", "min s", "max s", "tokens/s",
                "vs dense", "FFN share", "tables/layer");
        for (var row : r.rows())
            out.printf("%-24s %-5s %10s %10s %10s %12.0f %10s %9.1f%% %14s%n", row.name(), row.dtype(), seconds(row.medianS()),
                    seconds(row.minS()), seconds(row.maxS()), row.tokensPerS(),
                    Double.isNaN(row.speedupVsDense()) ? "-" : String.format("%.2fx", row.speedupVsDense()), 100 * row.ffnShare(),
                    row.tableBytesPerLayer() == 0 ? "-" : String.format("%.2f MiB", row.tableBytesPerLayer() / (double) (1 << 20)));
        out.printf("%nwhere a profiled call's time goes (median s per call, all layers; each stage a job of its own):%n%-24s",
                "name");
        for (String l : STAGE_LABELS) out.printf(" %16s", l);
        out.printf(" %14s%n", "profiled call");
        for (var row : r.rows()) {
            out.printf("%-24s", row.name());
            for (var s : dev.lookupffn.model.TransformerEncoder.Stage.values()) out.printf(" %16s", seconds(row.stageSeconds().get(s)));
            out.printf(" %14s%n", seconds(row.profiledS()));
        }
        for (String w : r.warnings()) out.println("warning: " + w);
        out.flush();
    }

    public static ObjectNode toJson(EncoderBenchmark.Result r) {
        ObjectNode root = JSON.createObjectNode();
        var c = r.config();
        root.put("benchmark", "encoder");
        ObjectNode config = root.putObject("config");
        config.put("batch", c.batch()).put("seq_len", c.seqLen()).put("tokens", c.tokens()).put("layers", c.layers())
                .put("hidden", c.hidden()).put("heads", c.heads()).put("head_size", c.headSize()).put("ffn_dim", c.ffn())
                .put("tables", c.tables()).put("table_rows", 1L << c.tau()).put("tau", c.tau()).put("bh4_block", c.block())
                .put("threads", c.threads()).put("repetitions", c.repetitions()).put("warmup", c.warmup())
                .put("dtypes", c.dtypes()).put("seed", c.seed());
        ObjectNode machine = root.putObject("machine");
        r.machine().forEach((k, v) -> machine.put(k, String.valueOf(v)));
        if (r.denseReference() == null) root.putNull("dense_reference");
        else root.put("dense_reference", r.denseReference());
        ArrayNode rows = root.putArray("rows");
        for (var row : r.rows()) {
            ObjectNode o = rows.addObject();
            o.put("name", row.name()).put("dtype", row.dtype()).put("median_s", row.medianS()).put("min_s", row.minS())
                    .put("max_s", row.maxS()).put("tokens_per_s", row.tokensPerS());
            if (Double.isNaN(row.speedupVsDense())) o.putNull("speedup_vs_dense");
            else o.put("speedup_vs_dense", row.speedupVsDense());
            o.put("ffn_share", row.ffnShare()).put("profiled_median_s", row.profiledS());
            if (row.tableBytesPerLayer() == 0) o.putNull("table_bytes_per_layer");
            else o.put("table_bytes_per_layer", row.tableBytesPerLayer());
            ObjectNode stages = o.putObject("stages_s");
            row.stageSeconds().forEach((s, v) -> stages.put(stageLabel(s), v));
            ArrayNode t = o.putArray("seconds");
            for (double v : row.seconds()) t.add(v);
        }
        ArrayNode warnings = root.putArray("warnings");
        r.warnings().forEach(warnings::add);
        return root;
    }

    /** Two panels: tokens/s per encoder (speedup vs the faster dense encoder in the label), and its time by stage. */
    public static void writeChart(EncoderBenchmark.Result r, Path path) throws IOException {
        System.setProperty("java.awt.headless", "true");
        var c = r.config();
        // the "encoder-" prefix is in the title: labels stay short enough not to overlap
        List<String> shortNames = r.rows().stream().map(row -> row.name().replaceFirst("^encoder-", "")).toList();
        List<String> names = new java.util.ArrayList<>();
        for (int i = 0; i < shortNames.size(); i++) {
            double speedup = r.rows().get(i).speedupVsDense();
            names.add(Double.isNaN(speedup) ? shortNames.get(i) : String.format("%s (%.2fx)", shortNames.get(i), speedup));
        }
        CategoryChart throughput = new CategoryChartBuilder().width(760).height(520)
                .title(String.format("Encoder: %d x %d tokens, %d layers, %d threads", c.batch(), c.seqLen(), c.layers(), c.threads()))
                .xAxisTitle("encoder").yAxisTitle("tokens / s (median)").build();
        throughput.getStyler().setLegendVisible(false);
        throughput.getStyler().setLabelsVisible(true);
        throughput.getStyler().setChartTitleBoxVisible(false);
        throughput.getStyler().setDecimalPattern("#,###");
        throughput.addSeries("tokens/s", names, r.rows().stream().map(EncoderBenchmark.Row::tokensPerS).toList());
        CategoryChart stages = new CategoryChartBuilder().width(760).height(520).title("where the time goes (profiled call)")
                .xAxisTitle("encoder").yAxisTitle("ms per call").build();
        stages.getStyler().setStacked(true);
        stages.getStyler().setChartTitleBoxVisible(false);
        stages.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE);
        stages.getStyler().setDecimalPattern("#,###.#");
        for (var s : dev.lookupffn.model.TransformerEncoder.Stage.values())
            stages.addSeries(stageLabel(s), shortNames, r.rows().stream().map(row -> 1e3 * row.stageSeconds().get(s)).toList());
        OutputFile.write(path, out -> BitmapEncoder.saveBitmap(List.of(throughput, stages), 1, 2,
                Channels.newOutputStream(out), BitmapEncoder.BitmapFormat.PNG));
    }

    /** Seconds with four decimals, or microsecond resolution below 10 ms (small batches). */
    static String seconds(double s) {
        return String.format(s >= 0.01 || Double.isNaN(s) ? "%.4f" : "%.6f", s);
    }
}
