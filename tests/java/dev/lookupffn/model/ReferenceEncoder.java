package dev.lookupffn.model;

import dev.lookupffn.tensor.Tensor;
import java.util.Map;

/**
 * The encoder graph in plain float64 Java, straight from SPEC.md: the test oracle for {@link TransformerEncoder}.
 * Pre-norm (LookupFFN or dense FFN) and post-norm (HF BERT) layouts; weights in nn.Linear [out, in] layout.
 */
final class ReferenceEncoder {
    final EncoderConfig c;
    final Map<String, Tensor> w;
    /** Smallest |z| / max|z| seen in a LookupFFN hash (a tiny value could flip a code between implementations). */
    double minZRatio = Double.MAX_VALUE;

    ReferenceEncoder(EncoderConfig c, Map<String, Tensor> w) {
        this.c = c;
        this.w = w;
    }

    double[] f(String name) {
        float[] a = w.get(name).toFloatArray();
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    /** [b·t, hidden] sequence output. */
    double[][] forward(Batch batch) {
        int b = batch.batchSize(), t = batch.seqLen(), h = c.hidden();
        double[] word = f("embeddings.word_embeddings.weight"), pos = f("embeddings.position_embeddings.weight"),
                type = f("embeddings.token_type_embeddings.weight");
        double[][] x = new double[b * t][h];
        for (int r = 0; r < b * t; r++) {
            int p = c.positionOffset() + r % t, id = batch.inputIds()[r], tt = batch.tokenTypeIds()[r];
            for (int k = 0; k < h; k++) x[r][k] = word[id * h + k] + type[tt * h + k] + pos[p * h + k];
            x[r] = ln(x[r], "embeddings.LayerNorm");
        }
        for (int i = 0; i < c.layers(); i++) {
            String p = "encoder.layer." + i + ".";
            if (c.norm() == EncoderConfig.Norm.PRE) {
                double[][] a = attention(map(x, r -> ln(r, p + "attention.LayerNorm")), batch, p + "attention.query",
                        p + "attention.key", p + "attention.value", p + "attention.dense");
                for (int r = 0; r < x.length; r++) x[r] = add(x[r], a[r]);
                for (int r = 0; r < x.length; r++) {
                    double[] y = w.containsKey(p + "FFN.tables") ? lookup(x[r], p + "FFN.") : dense(x[r], p);
                    x[r] = add(x[r], y);
                }
            } else {
                double[][] a = attention(x, batch, p + "attention.self.query", p + "attention.self.key",
                        p + "attention.self.value", p + "attention.output.dense");
                for (int r = 0; r < x.length; r++) x[r] = ln(add(x[r], a[r]), p + "attention.output.LayerNorm");
                for (int r = 0; r < x.length; r++) {
                    double[] y = linear(gelu(linear(x[r], p + "intermediate.dense")), p + "output.dense");
                    x[r] = ln(add(x[r], y), p + "output.LayerNorm");
                }
            }
        }
        if (c.norm() == EncoderConfig.Norm.PRE) for (int r = 0; r < x.length; r++) x[r] = ln(x[r], "encoder.LayerNorm");
        return x;
    }

    double[] dense(double[] x, String p) {
        return linear(gelu(linear(ln(x, p + "FFN.LayerNorm"), p + "FFN.fc1")), p + "FFN.fc2");
    }

    double[][] attention(double[][] x, Batch batch, String q, String k, String v, String o) {
        int b = batch.batchSize(), t = batch.seqLen(), h = c.hidden(), heads = c.heads(), hs = c.headSize();
        double[][] qs = map(x, r -> linear(r, q)), ks = map(x, r -> linear(r, k)), vs = map(x, r -> linear(r, v));
        double s = Math.sqrt(Math.sqrt(hs));
        double[][] ctx = new double[b * t][h];
        for (int seq = 0; seq < b; seq++)
            for (int hd = 0; hd < heads; hd++)
                for (int i = 0; i < t; i++) {
                    int qi = seq * t + i;
                    double[] sc = new double[t];
                    double mx = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < t; j++) {
                        int kj = seq * t + j;
                        double dot = 0;
                        for (int d = 0; d < hs; d++) dot += (qs[qi][hd * hs + d] / s) * (ks[kj][hd * hs + d] / s);
                        double m = batch.attentionMask()[kj];
                        sc[j] = dot + (c.norm() == EncoderConfig.Norm.PRE ? -1000.0 * (1 - m) : (m == 1 ? 0 : -1e30));
                        mx = Math.max(mx, sc[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < t; j++) sum += sc[j] = Math.exp(sc[j] - mx);
                    for (int d = 0; d < hs; d++) {
                        double acc = 0;
                        for (int j = 0; j < t; j++) acc += sc[j] / sum * vs[seq * t + j][hd * hs + d];
                        ctx[qi][hd * hs + d] = acc;
                    }
                }
        return map(ctx, r -> linear(r, o));
    }

    /** SPEC.md's LookupFFN (BH4 or dense projection) of one row. */
    double[] lookup(double[] x, String p) {
        double eps = c.layerNormEps();
        double[] u = ln(x, p + "LayerNorm", eps);
        Tensor tab = w.get(p + "tables"), pw = w.get(p + "hash.projection.weight");
        int hT = (int) tab.dim(0), tau = Integer.numberOfTrailingZeros((int) tab.dim(1)), o = (int) tab.dim(2);
        int bits = hT * tau, d = u.length;
        double[] projW = f(p + "hash.projection.weight"), projB = f(p + "hash.projection.bias");
        double[] z = new double[bits];
        if (pw.rank() == 2) {
            for (int j = 0; j < bits; j++) {
                z[j] = projB[j];
                for (int i = 0; i < d; i++) z[j] += projW[j * d + i] * u[i];
            }
        } else {
            int pad = Integer.highestOneBit(d) == d ? d : Integer.highestOneBit(d) << 1;
            int rep = (int) pw.dim(0), blk = (int) pw.dim(3), nb = pad / blk;
            double[] all = new double[rep * pad];
            for (int r = 0; r < rep; r++) {
                double[] y = new double[pad];
                System.arraycopy(u, 0, y, 0, d);
                for (int st = 0; st < 4; st++) {
                    double[] nx = new double[pad];
                    for (int n = 0; n < nb; n++)
                        for (int oo = 0; oo < blk; oo++) {
                            double s = 0;
                            for (int in = 0; in < blk; in++)
                                s += projW[((((r * 4 + st) * nb + n) * blk + oo) * blk) + in] * y[n * blk + in];
                            nx[n * blk + oo] = s;
                        }
                    y = new double[pad];
                    for (int i = 0; i < pad; i++)
                        for (int kk = 0; kk < pad; kk++) y[i] += (Integer.bitCount(i & kk) % 2 == 0 ? 1 : -1) * nx[kk];
                }
                for (int i = 0; i < pad; i++) all[r * pad + i] = 0.7 * y[i] + 0.3 * (i < d ? u[i] : 0);
            }
            for (int j = 0; j < bits; j++) z[j] = all[j] + projB[j];
        }
        double zmax = 0;
        for (double v : z) zmax = Math.max(zmax, Math.abs(v));
        for (double v : z) minZRatio = Math.min(minZRatio, Math.abs(v) / zmax);
        double[] tables = f(p + "tables"), out = f(p + "bias");
        for (int kk = 0; kk < hT; kk++) {
            double sum = 0, prod = 1;
            int code = 0;
            for (int j = 0; j < tau; j++) {
                double v = z[kk * tau + j];
                if (v > 0) code |= 1 << (tau - 1 - j);
                sum += Math.abs(v);
                prod *= 1 + Math.exp(-2 * Math.abs(v));
            }
            double score = sum / prod;
            int base = (kk * (1 << tau) + code) * o;
            for (int i = 0; i < o; i++) out[i] += score * tables[base + i];
        }
        return out;
    }

    double[] linear(double[] x, String base) {
        Tensor wt = w.get(base + ".weight");
        int out = (int) wt.dim(0), in = (int) wt.dim(1);
        double[] wd = f(base + ".weight"), bd = f(base + ".bias"), y = new double[out];
        for (int j = 0; j < out; j++) {
            double s = bd[j];
            for (int i = 0; i < in; i++) s += wd[j * in + i] * x[i];
            y[j] = s;
        }
        return y;
    }

    double[] ln(double[] x, String base) {
        return ln(x, base, c.layerNormEps());
    }

    double[] ln(double[] x, String base, double eps) {
        double[] g = f(base + ".weight"), b = f(base + ".bias");
        double mean = 0, var = 0;
        for (double v : x) mean += v;
        mean /= x.length;
        for (double v : x) var += (v - mean) * (v - mean);
        var /= x.length;
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = (x[i] - mean) / Math.sqrt(var + eps) * g[i] + b[i];
        return y;
    }

    static double[] gelu(double[] x) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = dev.lookupffn.ffi.Reference.gelu(x[i]);
        return y;
    }

    static double[] add(double[] a, double[] b) {
        double[] y = new double[a.length];
        for (int i = 0; i < a.length; i++) y[i] = a[i] + b[i];
        return y;
    }

    static double[][] map(double[][] x, java.util.function.UnaryOperator<double[]> fn) {
        double[][] y = new double[x.length][];
        for (int i = 0; i < x.length; i++) y[i] = fn.apply(x[i]);
        return y;
    }
}
