package dev.lookupffn.layer;

/**
 * The whole LookupFFN layer of SPEC.md in plain float64 Java: the test oracle. Straightforward loops, no tiling,
 * no tricks, so that it can be read against the specification line by line.
 */
final class ReferenceLookupFfn {
    final int d, o, h, tau, p, block, repeats; // repeats == 0: dense projection
    final double eps;
    final float[] lnW, lnB, projW, projB, tables, bias;

    ReferenceLookupFfn(int d, int o, int h, int tau, int block, boolean dense, double eps, float[] lnW, float[] lnB,
                       float[] projW, float[] projB, float[] tables, float[] bias) {
        this.d = d;
        this.o = o;
        this.h = h;
        this.tau = tau;
        this.p = Integer.highestOneBit(d) == d ? d : Integer.highestOneBit(d) << 1;
        this.block = dense ? 0 : block;
        this.repeats = dense ? 0 : Math.max(1, (h * tau + p - 1) / p);
        this.eps = eps;
        this.lnW = lnW;
        this.lnB = lnB;
        this.projW = projW;
        this.projB = projB;
        this.tables = tables;
        this.bias = bias;
    }

    /** Intermediates and output of one row. */
    record Row(double[] ln, double[] z, int[] code, double[] score, double[] out) {}

    Row forward(float[] x) {
        // 1. LayerNorm, biased variance
        double mean = 0, var = 0;
        for (int i = 0; i < d; i++) mean += x[i];
        mean /= d;
        for (int i = 0; i < d; i++) var += (x[i] - mean) * (x[i] - mean);
        var /= d;
        double[] u = new double[d];
        for (int i = 0; i < d; i++) u[i] = (x[i] - mean) / Math.sqrt(var + eps) * lnW[i] + lnB[i];
        // 2. projection
        int bits = h * tau;
        double[] z = new double[bits];
        if (repeats == 0) {
            for (int j = 0; j < bits; j++) {
                double s = projB[j];
                for (int i = 0; i < d; i++) s += (double) projW[j * d + i] * u[i];
                z[j] = s;
            }
        } else {
            double[] all = new double[repeats * p];
            for (int r = 0; r < repeats; r++) {
                double[] y = new double[p];
                System.arraycopy(u, 0, y, 0, d);
                for (int stage = 0; stage < 4; stage++) {
                    double[] next = new double[p];
                    int nb = p / block;
                    for (int n = 0; n < nb; n++)
                        for (int out = 0; out < block; out++) {
                            double s = 0;
                            for (int in = 0; in < block; in++)
                                s += (double) projW[((((r * 4 + stage) * nb + n) * block + out) * block) + in] * y[n * block + in];
                            next[n * block + out] = s;
                        }
                    y = hadamard(next);
                }
                for (int i = 0; i < p; i++) all[r * p + i] = 0.7 * y[i] + 0.3 * (i < d ? u[i] : 0);
            }
            for (int j = 0; j < bits; j++) z[j] = all[j] + projB[j];
        }
        // 3. code (first value = most significant bit, > 0 is 1) and score
        int[] code = new int[h];
        double[] score = new double[h];
        for (int k = 0; k < h; k++) {
            double sum = 0, prod = 1;
            int c = 0;
            for (int j = 0; j < tau; j++) {
                double v = z[k * tau + j];
                if (v > 0) c |= 1 << (tau - 1 - j);
                sum += Math.abs(v);
                prod *= 1 + Math.exp(-2 * Math.abs(v));
            }
            code[k] = c;
            score[k] = sum / prod;
        }
        return new Row(u, z, code, score, gather(code, score));
    }

    /** 4. out = Σ_k score_k · tables[k, code_k, :] + bias, for given codes and scores. */
    double[] gather(int[] code, double[] score) {
        double[] out = new double[o];
        for (int i = 0; i < o; i++) out[i] = bias[i];
        int rows = 1 << tau;
        for (int k = 0; k < h; k++) {
            int base = (k * rows + code[k]) * o;
            for (int i = 0; i < o; i++) out[i] += score[k] * tables[base + i];
        }
        return out;
    }

    /** Unnormalised Sylvester–Hadamard transform: H[i][k] = (-1)^popcount(i & k), computed directly. */
    static double[] hadamard(double[] v) {
        int n = v.length;
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int k = 0; k < n; k++) s += (Integer.bitCount(i & k) % 2 == 0 ? 1 : -1) * v[k];
            out[i] = s;
        }
        return out;
    }
}
