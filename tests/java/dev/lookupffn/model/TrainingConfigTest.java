package dev.lookupffn.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.LookupFfnException.FormatException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The authors' configuration: Python training files read as literals only, JSON, metadata, and clear errors. */
class TrainingConfigTest {
    static final String FULL = """
            model.vocab_size = 50_265
            model.hidden_size = 512
            model.num_hidden_layers = 4
            model.num_attention_heads = 8
            model.attention_head_size = 64
            model.max_position_embeddings = 512
            model.type_vocab_size = 1
            model.pad_token_id = 1
            model.layer_norm_eps = 1e-05
            model.ffn_num_table = 64
            model.ffn_table_size = 256
            model.block_size = 64
            model.projection_type = "bh4"
            """;

    @Test
    void aPythonConfigIsReadAsLiteralsOnly() {
        TrainingConfig c = TrainingConfig.fromPython("""
                from src.args import Args
                import os; os.system("never run")
                model = Args()
                model.name = 'a # not a comment'   # a comment
                model.flag = True
                model.nothing = None
                model.rate = -.5e-3
                model.steps = 250_000
                model.factory = build_model(hidden=512)
                model.sub.key = 3
                  model.indented = 7
                trainer.gpus = 4
                """, "cfg.py");
        assertEquals("a # not a comment", c.values().get("name"));
        assertEquals(Boolean.TRUE, c.values().get("flag"));
        assertTrue(c.has("nothing"));
        assertNull(c.values().get("nothing"));
        assertEquals(-0.5e-3, (Double) c.values().get("rate"), 0);
        assertEquals(250_000L, c.values().get("steps"));
        assertEquals(new TrainingConfig.Unparsed("build_model(hidden=512)"), c.values().get("factory"));
        assertEquals(7L, c.values().get("indented"));
        assertFalse(c.has("sub"));
        assertFalse(c.has("gpus"));
    }

    @Test
    void theFullConfigurationMapsToThePreNormEncoder() {
        EncoderConfig e = TrainingConfig.fromPython(FULL, "cfg.py").encoderConfig(true);
        assertEquals(EncoderConfig.Norm.PRE, e.norm());
        assertEquals(50265, e.vocabSize());
        assertEquals(512, e.hidden());
        assertEquals(8, e.heads());
        assertEquals(514, e.maxPositions()); // the table has two more rows
        assertEquals(2, e.positionOffset());
        assertEquals(1e-5f, e.layerNormEps());
        assertEquals(EncoderConfig.PRENORM_MASK_VALUE, e.maskValue());
        // JSON and metadata say the same
        TrainingConfig json = TrainingConfig.fromJson("""
                {"vocab_size": 50265, "hidden_size": 512, "num_hidden_layers": 4, "num_attention_heads": 8,
                 "attention_head_size": 64, "max_position_embeddings": 512, "type_vocab_size": 1, "pad_token_id": 1,
                 "layer_norm_eps": 1e-05, "ffn_num_table": 64, "ffn_table_size": 256, "block_size": 64,
                 "hash_linear_type": "BH4"}""", "config.json");
        assertEquals(e, json.encoderConfig(true));
        assertEquals("bh4", json.projectionType());
        Map<String, String> meta = json.toMetadata();
        assertEquals("bh4", meta.get("projection_type"));
        assertEquals(e, TrainingConfig.fromMetadata(meta, "meta").encoderConfig(true));
    }

    @Test
    void missingKeysAreListedAndNothingIsGuessed() {
        String noHeads = FULL.replace("model.num_attention_heads = 8\n", "").replace("model.ffn_table_size = 256\n", "");
        FormatException e = assertThrows(FormatException.class,
                () -> TrainingConfig.fromPython(noHeads, "train.py").encoderConfig(true));
        assertTrue(e.getMessage().startsWith("train.py: the model configuration lacks num_attention_heads, ffn_table_size"),
                e.getMessage());
        // a model without LookupFFN layers does not need the LookupFFN keys
        String dense = FULL.replaceAll("(?m)^model\\.(ffn_|block_size|projection_type).*\\n", "");
        assertEquals(512, TrainingConfig.fromPython(dense, "dense.py").encoderConfig(false).hidden());
        FormatException blocks = assertThrows(FormatException.class,
                () -> TrainingConfig.fromPython(FULL.replace("model.block_size = 64\n", ""), "b.py").encoderConfig(true));
        assertTrue(blocks.getMessage().contains("lacks block_size"), blocks.getMessage());
    }

    @Test
    void inconsistentValuesAreNamed() {
        FormatException heads = assertThrows(FormatException.class, () -> TrainingConfig.fromPython(
                FULL.replace("attention_head_size = 64", "attention_head_size = 32"), "h.py").encoderConfig(true));
        assertTrue(heads.getMessage().contains("attention_head_size 32 × num_attention_heads 8"), heads.getMessage());
        FormatException proj = assertThrows(FormatException.class, () -> TrainingConfig.fromPython(
                FULL.replace("\"bh4\"", "\"bh8\""), "p.py").encoderConfig(true));
        assertTrue(proj.getMessage().contains("'bh8'"), proj.getMessage());
        FormatException rows = assertThrows(FormatException.class, () -> TrainingConfig.fromPython(
                FULL.replace("ffn_table_size = 256", "ffn_table_size = 100"), "r.py").encoderConfig(true));
        assertTrue(rows.getMessage().contains("power of two"), rows.getMessage());
        FormatException notLiteral = assertThrows(FormatException.class, () -> TrainingConfig.fromPython(
                FULL.replace("hidden_size = 512", "hidden_size = 2 * 256"), "l.py").encoderConfig(true));
        assertTrue(notLiteral.getMessage().contains("'2 * 256' (not a literal)"), notLiteral.getMessage());
        assertThrows(FormatException.class, () -> TrainingConfig.read(Path.of("no/such/config.py")));
    }
}
