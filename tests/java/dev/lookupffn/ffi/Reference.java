package dev.lookupffn.ffi;

/** Pure-Java float64 references of the kernels: the test oracles (never used at run time). */
public final class Reference {
    private Reference() {}

    public static double[] layerNorm(float[] x, int rows, int cols, float[] gamma, float[] beta, double eps) {
        double[] y = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            double mean = 0, var = 0;
            for (int c = 0; c < cols; c++) mean += x[r * cols + c];
            mean /= cols;
            for (int c = 0; c < cols; c++) var += (x[r * cols + c] - mean) * (x[r * cols + c] - mean);
            var /= cols;
            double inv = 1 / Math.sqrt(var + eps);
            for (int c = 0; c < cols; c++) y[r * cols + c] = (x[r * cols + c] - mean) * inv * gamma[c] + beta[c];
        }
        return y;
    }

    /** ‖a − b‖ / ‖b‖. */
    public static double relativeError(float[] a, double[] b) {
        if (a.length != b.length) throw new AssertionError("length " + a.length + " != " + b.length);
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            num += (a[i] - b[i]) * (a[i] - b[i]);
            den += b[i] * b[i];
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }

    public static double relativeError(float[] a, float[] b) {
        double[] bd = new double[b.length];
        for (int i = 0; i < b.length; i++) bd[i] = b[i];
        return relativeError(a, bd);
    }
}
