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
    /** erf to ~1e-15 (series for small |x|, continued fraction / complement for large). */
    public static double erf(double x) {
        double ax = Math.abs(x);
        if (ax < 2.5) {
            double sum = ax, term = ax, x2 = ax * ax;
            for (int n = 1; n < 200; n++) {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
            }
            return Math.signum(x) * 2 / Math.sqrt(Math.PI) * sum;
        }
        // erfc by Lentz's continued fraction
        double f, c0, d, delta, b0 = ax * ax + 0.5;
        double tiny = 1e-300;
        f = b0;
        c0 = b0;
        d = 0;
        for (int n = 1; n < 300; n++) {
            double an = -n * (n - 0.5), bn = ax * ax + 0.5 + 2 * n;
            d = bn + an * d;
            d = Math.abs(d) < tiny ? tiny : d;
            c0 = bn + an / c0;
            c0 = Math.abs(c0) < tiny ? tiny : c0;
            d = 1 / d;
            delta = c0 * d;
            f *= delta;
            if (Math.abs(delta - 1) < 1e-16) break;
        }
        double erfc = ax * Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
        return Math.signum(x) * (1 - erfc);
    }

    /** Exact GELU: 0.5·x·(1 + erf(x/√2)). */
    public static double gelu(double x) {
        return 0.5 * x * (1 + erf(x / Math.sqrt(2)));
    }

    /** A new owned F32 tensor of normal values mean + scale·N(0, 1) (seeded by the caller's Random). */
    public static dev.lookupffn.tensor.Tensor gaussian(java.util.Random rnd, double scale, double mean, long... shape) {
        var t = dev.lookupffn.tensor.Tensor.allocate(dev.lookupffn.tensor.DType.F32, shape);
        for (long i = 0; i < t.elementCount(); i++) t.setFloat(i, (float) (mean + scale * rnd.nextGaussian()));
        return t;
    }
}
