package dev.lookupffn.tokenizer;

import java.util.List;

/**
 * A single-sequence template (TemplateProcessing, BertProcessing, RobertaProcessing): special tokens around
 * sequence A, each item with its type id.
 */
record PostProcessor(List<Item> items) {
    /** A template item: the sequence ({@code ids == null}) or special tokens. */
    record Item(int[] ids, String[] tokens, int typeId) {
        boolean isSequence() {
            return ids == null;
        }
    }

    static final PostProcessor NONE = new PostProcessor(List.of(new Item(null, null, 0)));

    int numAdded() {
        int n = 0;
        for (Item it : items) if (!it.isSequence()) n += it.ids().length;
        return n;
    }

    Encoding apply(int[] ids, String[] tokens, boolean addSpecialTokens) {
        if (!addSpecialTokens) {
            int seqType = 0;
            for (Item it : items) if (it.isSequence()) seqType = it.typeId();
            int[] types = new int[ids.length];
            java.util.Arrays.fill(types, seqType);
            return new Encoding(ids, ones(ids.length), types, tokens);
        }
        int n = ids.length + numAdded();
        int[] outIds = new int[n], types = new int[n];
        String[] outTokens = new String[n];
        int k = 0;
        for (Item it : items) {
            int[] src = it.isSequence() ? ids : it.ids();
            String[] srcT = it.isSequence() ? tokens : it.tokens();
            System.arraycopy(src, 0, outIds, k, src.length);
            System.arraycopy(srcT, 0, outTokens, k, src.length);
            java.util.Arrays.fill(types, k, k + src.length, it.typeId());
            k += src.length;
        }
        return new Encoding(outIds, ones(n), types, outTokens);
    }

    private static int[] ones(int n) {
        int[] a = new int[n];
        java.util.Arrays.fill(a, 1);
        return a;
    }
}
