package dev.lookupffn.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lookupffn.bench.EmbedBenchmark.Mode;
import dev.lookupffn.bench.EmbedBenchmark.Result;
import dev.lookupffn.bench.EmbedBenchmark.Row;
import dev.lookupffn.io.OutputFile;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.channels.Channels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;

/** {@code bench --embed}'s table, JSON and chart (ours against ONNX Runtime, per mode). */
public final class EmbedReport {
    private static final ObjectMapper JSON = new ObjectMapper();

    private EmbedReport() {}

    /** How a mode reads in the table and the chart, with its sizes. */
    static String modeLabel(Result r, Mode m) {
        return switch (m) {
            case ONE -> "one text per call";
            case BATCH -> "sorted batches of " + r.config().batchSize();
            case CALLERS -> r.config().callers() + " callers x 1 thread";
        };
    }

    public static void print(Result r, PrintWriter out) {
        var c = r.config();
        var corpus = r.corpus();
        out.printf("Embeddings, ours vs ONNX Runtime: %s; %d texts, %d tokens (%.1f per text) from %s; %d thread(s)%n",
                c.model() == null ? "all-MiniLM-L6-v2 (embedded)" : c.model(), corpus.ids().size(), corpus.tokens(),
                corpus.averageTokens(), corpus.source(), c.threads());
        out.printf("%s | %s | %s%s%n", r.machine().get("cpu"), r.machine().get("isa"),
                r.ortMissing() == null ? "ONNX Runtime " + r.machine().get("onnxruntime") + " | " : "", r.machine().get("jdk"));
        if (r.ortMissing() != null) out.println(r.ortMissing());
        out.printf("median of %d interleaved passes over the texts after %d warm-up; ours / ORT = ORT's time over ours%n%n",
                c.repetitions(), c.warmup());
        out.printf("%-28s %-10s %-5s %8s %10s %10s %12s %18s %14s%n", "mode", "name", "dtype", "threads", "median s",
                "tokens/s", "ours / ORT", "(range per rep)", "worst cosine");
        for (Row row : r.rows())
            out.printf("%-28s %-10s %-5s %8d %10s %10.0f %12s %18s %14s%n", modeLabel(r, row.mode()), row.name(), row.dtype(),
                    row.threadsPerCall(), BenchReport.seconds(row.medianS()), row.tokensPerS(),
                    Double.isNaN(row.vsOrt()) ? "-" : String.format("%.2fx", row.vsOrt()),
                    Double.isNaN(row.vsOrtMin()) ? "" : String.format("%.2f-%.2fx", row.vsOrtMin(), row.vsOrtMax()),
                    cosine(row.worstCosine()));
        Row one = r.row("ours", Mode.ONE), callers = r.row("ours", Mode.CALLERS);
        if (one != null && callers != null)
            out.printf("%n%d callers x 1 thread give %.2fx the throughput of one caller with %d threads%n", c.callers(),
                    callers.tokensPerS() / one.tokensPerS(), c.threads());
        for (String w : r.warnings()) out.println("warning: " + w);
        out.flush();
    }

    /** A cosine near 1 as its distance from 1 (1 - 3.1e-12), which digits after "0.99999" would hide. */
    static String cosine(double c) {
        if (Double.isNaN(c)) return "-";
        return c >= 0.999 && c < 1 ? String.format("1 - %.1e", 1 - c) : String.format("%.6f", c);
    }

    public static ObjectNode toJson(Result r) {
        ObjectNode root = JSON.createObjectNode();
        var c = r.config();
        root.put("benchmark", "embed");
        ObjectNode config = root.putObject("config");
        config.put("model", c.model() == null ? "embedded all-MiniLM-L6-v2" : c.model().toString())
                .put("corpus", r.corpus().source()).put("texts", r.corpus().ids().size()).put("tokens", r.corpus().tokens())
                .put("average_tokens", r.corpus().averageTokens()).put("threads", c.threads()).put("callers", c.callers())
                .put("batch_size", c.batchSize()).put("repetitions", c.repetitions()).put("warmup", c.warmup())
                .put("dtypes", c.dtypes());
        ObjectNode machine = root.putObject("machine");
        r.machine().forEach((k, v) -> machine.put(k, String.valueOf(v)));
        if (r.ortMissing() == null) root.putNull("ort_missing");
        else root.put("ort_missing", r.ortMissing());
        ArrayNode rows = root.putArray("rows");
        for (Row row : r.rows()) {
            ObjectNode o = rows.addObject();
            o.put("name", row.name()).put("dtype", row.dtype()).put("mode", row.mode().key())
                    .put("threads_per_call", row.threadsPerCall()).put("callers", row.callers())
                    .put("median_s", row.medianS()).put("tokens_per_s", row.tokensPerS());
            number(o, "ours_over_ort", row.vsOrt());
            number(o, "ours_over_ort_min", row.vsOrtMin());
            number(o, "ours_over_ort_max", row.vsOrtMax());
            number(o, "worst_cosine_vs_ort", row.worstCosine());
            ArrayNode s = o.putArray("seconds");
            for (double t : row.seconds()) s.add(t);
        }
        ArrayNode warnings = root.putArray("warnings");
        r.warnings().forEach(warnings::add);
        return root;
    }

    private static void number(ObjectNode o, String key, double v) {
        if (Double.isNaN(v)) o.putNull(key);
        else o.put(key, v);
    }

    /** Tokens/s per mode, one bar per engine; ours / ORT in the mode's label. */
    public static void writeChart(Result r, Path path) throws IOException {
        System.setProperty("java.awt.headless", "true");
        var c = r.config();
        List<Mode> modes = c.modes();
        List<String> labels = new ArrayList<>();
        for (Mode m : modes) {
            Row ours = r.row("ours", m);
            labels.add(ours == null || Double.isNaN(ours.vsOrt()) ? modeLabel(r, m)
                    : String.format("%s (%.2fx)", modeLabel(r, m), ours.vsOrt()));
        }
        CategoryChart chart = new CategoryChartBuilder().width(900).height(520)
                .title(String.format("Embeddings: %s, %d texts (%.1f tokens each), %d threads",
                        c.model() == null ? "all-MiniLM-L6-v2" : c.model().getFileName(), r.corpus().ids().size(),
                        r.corpus().averageTokens(), c.threads()))
                .xAxisTitle("mode (ours / ORT)").yAxisTitle("tokens / s (median)").build();
        chart.getStyler().setLabelsVisible(true);
        chart.getStyler().setChartTitleBoxVisible(false);
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
        chart.getStyler().setDecimalPattern("#,###");
        for (String name : r.rows().stream().map(Row::name).distinct().toList()) {
            List<Double> values = new ArrayList<>();
            for (Mode m : modes) {
                Row row = r.row(name, m);
                values.add(row == null ? 0.0 : row.tokensPerS());
            }
            chart.addSeries(name.equals("ort") ? "ONNX Runtime" : name, labels, values);
        }
        OutputFile.write(path, out -> BitmapEncoder.saveBitmap(chart, Channels.newOutputStream(out), BitmapEncoder.BitmapFormat.PNG));
    }
}
