package dev.lookupffn.tokenizer;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The HuggingFace pipeline: added tokens, normalizer, pre-tokenizer, model, truncation, post-processor. */
final class HfTokenizer implements Tokenizer {
    record Padding(int padId, int padTypeId, String padToken, boolean left, int multipleOf) {}

    record Parts(AddedVocabulary added, Normalizer normalizer, PreTokenizer preTokenizer, Model model,
                 PostProcessor postProcessor, Decoder decoder, Padding padding, boolean truncateLeft) {}

    private final Parts p;
    private final int maxLength;
    private final String[] idToToken;
    private final Map<String, Integer> addedIds;
    private final Set<Integer> specialIds;
    private final int unkId;

    HfTokenizer(Parts parts, int maxLength) {
        this.p = parts;
        this.maxLength = maxLength;
        int max = -1;
        for (int id : parts.model().vocab().values()) max = Math.max(max, id);
        for (AddedVocabulary.AddedToken t : parts.added().tokens) max = Math.max(max, t.id());
        idToToken = new String[max + 1];
        for (Map.Entry<String, Integer> e : parts.model().vocab().entrySet()) idToToken[e.getValue()] = e.getKey();
        addedIds = new java.util.HashMap<>();
        specialIds = new HashSet<>();
        for (AddedVocabulary.AddedToken t : parts.added().tokens) {
            idToToken[t.id()] = t.content();
            addedIds.put(t.content(), t.id());
            if (t.special()) specialIds.add(t.id());
        }
        String unk = parts.model().unkToken();
        unkId = unk == null ? -1 : tokenToId(unk);
    }

    private HfTokenizer(HfTokenizer base, int maxLength) {
        this.p = base.p;
        this.maxLength = maxLength;
        this.idToToken = base.idToToken;
        this.addedIds = base.addedIds;
        this.specialIds = base.specialIds;
        this.unkId = base.unkId;
    }

    @Override
    public Encoding encode(String text, boolean addSpecialTokens) {
        if (text == null) throw new IllegalArgumentException("text is null");
        List<String> tokens = new ArrayList<>();
        IntList ids = new IntList(text.length() / 3 + 4);
        List<AddedVocabulary.Piece> pieces = new ArrayList<>();
        p.added().splitRaw(text, pieces);
        List<AddedVocabulary.Piece> inner = new ArrayList<>();
        List<String> words = new ArrayList<>();
        for (AddedVocabulary.Piece piece : pieces) {
            if (piece.id() >= 0) {
                tokens.add(idToToken[piece.id()]);
                ids.add(piece.id());
                continue;
            }
            String norm = p.normalizer() == null ? piece.text() : p.normalizer().normalize(piece.text());
            inner.clear();
            p.added().splitNormalized(norm, inner);
            for (AddedVocabulary.Piece q : inner) {
                if (q.id() >= 0) {
                    tokens.add(idToToken[q.id()]);
                    ids.add(q.id());
                    continue;
                }
                words.clear();
                if (p.preTokenizer() == null) {
                    if (!q.text().isEmpty()) words.add(q.text());
                } else {
                    p.preTokenizer().split(q.text(), words);
                }
                for (String w : words) p.model().tokenize(w, tokens, ids);
            }
        }
        int[] idArr = ids.toArray();
        String[] tokArr = tokens.toArray(new String[0]);
        if (maxLength > 0) {
            int limit = Math.max(0, maxLength - (addSpecialTokens ? p.postProcessor().numAdded() : 0));
            if (idArr.length > limit) {
                int from = p.truncateLeft() ? idArr.length - limit : 0;
                idArr = java.util.Arrays.copyOfRange(idArr, from, from + limit);
                tokArr = java.util.Arrays.copyOfRange(tokArr, from, from + limit);
            }
        }
        return p.postProcessor().apply(idArr, tokArr, addSpecialTokens);
    }

    @Override
    public List<Encoding> encodeBatch(List<String> texts, boolean addSpecialTokens) {
        List<Encoding> encs = new ArrayList<>(texts.size());
        int longest = 0;
        for (String t : texts) {
            Encoding e = encode(t, addSpecialTokens);
            encs.add(e);
            longest = Math.max(longest, e.length());
        }
        Padding pad = padding();
        if (pad.multipleOf() > 1 && longest % pad.multipleOf() != 0)
            longest += pad.multipleOf() - longest % pad.multipleOf();
        List<Encoding> out = new ArrayList<>(encs.size());
        for (Encoding e : encs) out.add(e.length() == longest ? e : pad(e, longest, pad));
        return out;
    }

    private static Encoding pad(Encoding e, int n, Padding pad) {
        int[] ids = new int[n], mask = new int[n], types = new int[n];
        String[] toks = new String[n];
        int len = e.length(), off = pad.left() ? n - len : 0;
        java.util.Arrays.fill(ids, pad.padId());
        java.util.Arrays.fill(types, pad.padTypeId());
        java.util.Arrays.fill(toks, pad.padToken());
        System.arraycopy(e.ids(), 0, ids, off, len);
        System.arraycopy(e.attentionMask(), 0, mask, off, len);
        System.arraycopy(e.typeIds(), 0, types, off, len);
        System.arraycopy(e.tokens(), 0, toks, off, len);
        return new Encoding(ids, mask, types, toks);
    }

    private Padding padding() {
        if (p.padding() != null) return p.padding();
        for (String cand : new String[] {"[PAD]", "<pad>"}) {
            int id = tokenToId(cand);
            if (id >= 0) return new Padding(id, 0, cand, false, 0);
        }
        String t = idToToken(0);
        return new Padding(0, 0, t == null ? "" : t, false, 0);
    }

    @Override
    public String decode(int[] ids, boolean skipSpecialTokens) {
        List<String> tokens = new ArrayList<>(ids.length);
        for (int id : ids) {
            if (id < 0 || id >= idToToken.length || idToToken[id] == null) continue;
            if (skipSpecialTokens && specialIds.contains(id)) continue;
            tokens.add(idToToken[id]);
        }
        return p.decoder().decode(tokens);
    }

    @Override
    public int vocabSize() {
        return idToToken.length;
    }

    @Override
    public int tokenToId(String token) {
        Integer id = addedIds.get(token);
        if (id == null) id = p.model().vocab().get(token);
        return id == null ? -1 : id;
    }

    @Override
    public String idToToken(int id) {
        return id < 0 || id >= idToToken.length ? null : idToToken[id];
    }

    @Override
    public int padId() {
        return padding().padId();
    }

    @Override
    public String padToken() {
        return padding().padToken();
    }

    @Override
    public int unkId() {
        return unkId;
    }

    @Override
    public boolean isSpecial(int id) {
        return specialIds.contains(id);
    }

    @Override
    public int numSpecialTokens() {
        return p.postProcessor().numAdded();
    }

    @Override
    public int maxLength() {
        return maxLength;
    }

    @Override
    public Tokenizer withMaxLength(int maxLength) {
        if (maxLength < 0) throw new IllegalArgumentException("maxLength must be >= 0 (0 = no truncation), got " + maxLength);
        if (maxLength > 0 && maxLength < numSpecialTokens())
            throw new IllegalArgumentException("maxLength " + maxLength + " leaves no room: the template adds "
                    + numSpecialTokens() + " special tokens");
        return new HfTokenizer(this, maxLength);
    }
}
