package dev.lookupffn.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.ffi.Isa;
import dev.lookupffn.ffi.Kernels;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.ffi.Reference;
import dev.lookupffn.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The attention kernels through FFM (Kernels facade) against float64 Java, on every ISA; facade checks. */
class AttentionKernelsTest {
    @AfterEach
    void restore() {
        Kernels.setMaxIsa(Kernels.cpuIsa());
    }

    @ParameterizedTest
    @EnumSource(Isa.class)
    void softmaxRowsMatchesFloat64(Isa isa) {
        Assumptions.assumeTrue(isa.compareTo(Kernels.cpuIsa()) <= 0);
        Kernels.setMaxIsa(isa);
        Random rnd = new Random(5);
        int rows = 9, cols = 37, ld = 40;
        float scale = 0.25f;
        try (Tensor x = Reference.gaussian(rnd, 4, 0, rows, ld); Tensor mask = Tensor.allocate(DType.F32, cols);
             Tensor y = Tensor.allocate(DType.F32, rows, ld)) {
            for (int c = 0; c < cols; c++) mask.setFloat(c, c % 4 == 3 ? -1000f : 0f);
            Kernels.softmaxRows(rows, cols, x.segment(), ld, scale, mask.segment(), y.segment(), ld);
            for (int r = 0; r < rows; r++) {
                double mx = Double.NEGATIVE_INFINITY, sum = 0;
                double[] s = new double[cols];
                for (int c = 0; c < cols; c++) mx = Math.max(mx, s[c] = x.getFloat(r * ld + c) * (double) scale + mask.getFloat(c));
                for (int c = 0; c < cols; c++) sum += s[c] = Math.exp(s[c] - mx);
                double total = 0;
                for (int c = 0; c < cols; c++) {
                    assertEquals(s[c] / sum, y.getFloat(r * ld + c), 2e-7, isa + " row " + r + " col " + c);
                    total += y.getFloat(r * ld + c);
                }
                assertEquals(1.0, total, 1e-5);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Isa.class)
    void attentionMatchesFloat64(Isa isa) {
        Assumptions.assumeTrue(isa.compareTo(Kernels.cpuIsa()) <= 0);
        Kernels.setMaxIsa(isa);
        Random rnd = new Random(9);
        int t = 23, heads = 3, hs = 16, w = heads * hs;
        float scale = 0.25f;
        try (Arena arena = Arena.ofConfined(); Tensor qkv = Reference.gaussian(rnd, 1, 0, t, 3 * w); Tensor out = Tensor.allocate(DType.F32, t, w)) {
            var ws = arena.allocate(Kernels.attentionWorkspaceSize(t), 64);
            var q = qkv.segment();
            Kernels.attention(t, heads, hs, q, 3L * w, q.asSlice(w * 4L), 3L * w, q.asSlice(2L * w * 4), 3L * w, scale, null, ws,
                    out.segment(), w);
            double num = 0, den = 0;
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < t; i++) {
                    double[] p = new double[t];
                    double mx = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int j = 0; j < t; j++) {
                        double dot = 0;
                        for (int d = 0; d < hs; d++) dot += (double) qkv.getFloat(i * 3 * w + h * hs + d) * qkv.getFloat(j * 3 * w + w + h * hs + d);
                        mx = Math.max(mx, p[j] = dot * scale);
                    }
                    for (int j = 0; j < t; j++) sum += p[j] = Math.exp(p[j] - mx);
                    for (int d = 0; d < hs; d++) {
                        double o = 0;
                        for (int j = 0; j < t; j++) o += p[j] / sum * qkv.getFloat(j * 3 * w + 2 * w + h * hs + d);
                        double diff = out.getFloat(i * w + h * hs + d) - o;
                        num += diff * diff;
                        den += o * o;
                    }
                }
            assertTrue(Math.sqrt(num / den) < 1e-6, isa + ": relative error " + Math.sqrt(num / den));
        }
    }

    /** Any range of a sequence's queries gives the rows of the whole call bit for bit (threads split queries so). */
    @ParameterizedTest
    @EnumSource(Isa.class)
    void attentionRowsMatchWholeCall(Isa isa) {
        Assumptions.assumeTrue(isa.compareTo(Kernels.cpuIsa()) <= 0);
        Kernels.setMaxIsa(isa);
        Random rnd = new Random(11);
        for (int hs : new int[] {8, 32, 48, 64}) {
            int t = 41, heads = 2, w = heads * hs;
            try (Arena arena = Arena.ofConfined(); Tensor qkv = Reference.gaussian(rnd, 1, 0, t, 3 * w);
                 Tensor whole = Tensor.allocate(DType.F32, t, w); Tensor parts = Tensor.allocate(DType.F32, t, w);
                 Tensor mask = Tensor.allocate(DType.F32, t)) {
                for (int j = 0; j < t; j++) mask.setFloat(j, j % 7 == 6 ? -1000f : 0f);
                var ws = arena.allocate(Kernels.attentionWorkspaceSize(t), 64);
                var q = qkv.segment();
                Kernels.attention(t, heads, hs, q, 3L * w, q.asSlice(w * 4L), 3L * w, q.asSlice(2L * w * 4), 3L * w, 0.3f,
                        mask.segment(), ws, whole.segment(), w);
                int[] cuts = {0, 1, 14, 15, 40, 41};
                for (int c = 0; c + 1 < cuts.length; c++) {
                    int r0 = cuts[c], r1 = cuts[c + 1];
                    Kernels.attentionRows(r1 - r0, t, heads, hs, q.asSlice((long) r0 * 3 * w * 4), 3L * w, q.asSlice(w * 4L),
                            3L * w, q.asSlice(2L * w * 4), 3L * w, 0.3f, mask.segment(), ws,
                            parts.segment().asSlice((long) r0 * w * 4), w);
                }
                for (int i = 0; i < t * w; i++)
                    assertEquals(Float.floatToRawIntBits(whole.getFloat(i)), Float.floatToRawIntBits(parts.getFloat(i)),
                            isa + " head size " + hs + " element " + i);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = Isa.class, names = "SCALAR")
    void facadeRejectsBadSizes(Isa ignored) {
        try (Arena arena = Arena.ofConfined(); Tensor x = Tensor.allocate(DType.F32, 4, 8)) {
            var s = x.segment();
            assertThrows(ShapeException.class, () -> Kernels.softmaxRows(5, 8, s, 8, 1f, null, s, 8));   // too many rows
            assertThrows(ShapeException.class, () -> Kernels.softmaxRows(4, 8, s, 7, 1f, null, s, 8));   // ld < cols
            assertThrows(ShapeException.class, () -> Kernels.softmaxRows(4, 8, s, 8, Float.NaN, null, s, 8));
            assertThrows(ShapeException.class, () -> Kernels.softmaxRows(4, 8, s, 8, 1f, s.asSlice(0, 16), s, 8)); // short mask
            assertThrows(ShapeException.class, () -> Kernels.add(4, 9, s, 8, s, 8, s, 8));
            var ws = arena.allocate(16, 64);
            assertThrows(ShapeException.class, () -> Kernels.attention(4, 2, 4, s, 8, s, 8, s, 8, 1f, null, ws, s, 8)); // ws small
            assertThrows(ShapeException.class, () -> Kernels.attention(4, 3, 4, s, 8, s, 8, s, 8, 1f, null,
                    arena.allocate(64, 64), s, 8)); // 3 heads × 4 > ld 8
            assertThrows(ShapeException.class, () -> Kernels.attentionWorkspaceSize(0));
            var big = arena.allocate(Kernels.attentionWorkspaceSize(4), 64);
            assertThrows(ShapeException.class, () -> Kernels.attentionRows(3, 2, 1, 4, s, 8, s, 8, s, 8, 1f, null, big, s, 8)); // queries > keys
            assertThrows(ShapeException.class, () -> Kernels.attentionRows(0, 2, 1, 4, s, 8, s, 8, s, 8, 1f, null, big, s, 8));
        }
    }
}
