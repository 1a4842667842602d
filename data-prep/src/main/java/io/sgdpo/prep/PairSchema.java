package io.sgdpo.prep;

import io.sgdpo.nn.PairExample;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

import java.util.List;

/**
 * The one place that knows the columns of the pair shards under {@code DIR/pairs/*.parquet} and of
 * the rejects under {@code DIR/rejects/}. Later stages (reference log-probs) extend the pair schema
 * here, so readers and writers never disagree on a column name.
 *
 * <pre>
 * pair_id       string      32 hex chars, content hash of normalized prompt/chosen/rejected
 * split         string      "train" or "eval", a function of pair_id only
 * source        string      input file name the pair came from
 * prompt_ids    array&lt;int&gt;  prompt in vocabulary ids (its last maxPromptLength ids)
 * chosen_ids    array&lt;int&gt;  chosen response ids, ending with EOS (256) unless truncated
 * rejected_ids  array&lt;int&gt;  rejected response ids, ending with EOS unless truncated
 * prompt_len    int         length of prompt_ids
 * chosen_len    int         length of chosen_ids
 * rejected_len  int         length of rejected_ids
 * </pre>
 *
 * <p>After {@code sgdpo ref-logps} ({@link #PAIRS_WITH_REFERENCE}), four more columns follow:
 * <pre>
 * chosen_ref_logps    array&lt;double&gt;  log pi_ref of each chosen token given the prompt and the tokens
 *                                    before it; chosen_len values, index t = chosen_ids[t]
 * rejected_ref_logps  array&lt;double&gt;  the same for rejected_ids (rejected_len values)
 * chosen_ref_sum      double         sum of chosen_ref_logps (log pi_ref(chosen | prompt))
 * rejected_ref_sum    double         sum of rejected_ref_logps
 * </pre>
 * SGDPO's pilot needs the per-token values, not only the sums.
 */
public final class PairSchema {

    public static final String PAIR_ID = "pair_id";
    public static final String SPLIT = "split";
    public static final String SOURCE = "source";
    public static final String PROMPT_IDS = "prompt_ids";
    public static final String CHOSEN_IDS = "chosen_ids";
    public static final String REJECTED_IDS = "rejected_ids";
    public static final String PROMPT_LEN = "prompt_len";
    public static final String CHOSEN_LEN = "chosen_len";
    public static final String REJECTED_LEN = "rejected_len";

    public static final String CHOSEN_REF_LOGPS = "chosen_ref_logps";
    public static final String REJECTED_REF_LOGPS = "rejected_ref_logps";
    public static final String CHOSEN_REF_SUM = "chosen_ref_sum";
    public static final String REJECTED_REF_SUM = "rejected_ref_sum";

    public static final String TRAIN = "train";
    public static final String EVAL = "eval";

    /** Sub-directories and files of a prep output directory. */
    public static final String PAIRS_DIR = "pairs";
    public static final String REJECTS_DIR = "rejects";
    public static final String VOCAB_FILE = "vocab.json";
    public static final String MANIFEST_FILE = "_manifest.json";

    public static final StructType PAIRS = new StructType(new StructField[]{
            DataTypes.createStructField(PAIR_ID, DataTypes.StringType, false),
            DataTypes.createStructField(SPLIT, DataTypes.StringType, false),
            DataTypes.createStructField(SOURCE, DataTypes.StringType, false),
            DataTypes.createStructField(PROMPT_IDS, DataTypes.createArrayType(DataTypes.IntegerType, false), false),
            DataTypes.createStructField(CHOSEN_IDS, DataTypes.createArrayType(DataTypes.IntegerType, false), false),
            DataTypes.createStructField(REJECTED_IDS, DataTypes.createArrayType(DataTypes.IntegerType, false), false),
            DataTypes.createStructField(PROMPT_LEN, DataTypes.IntegerType, false),
            DataTypes.createStructField(CHOSEN_LEN, DataTypes.IntegerType, false),
            DataTypes.createStructField(REJECTED_LEN, DataTypes.IntegerType, false),
    });

    /** The pair columns followed by the reference log-probs that {@code sgdpo ref-logps} adds. */
    public static final StructType PAIRS_WITH_REFERENCE = PAIRS
            .add(DataTypes.createStructField(CHOSEN_REF_LOGPS, DataTypes.createArrayType(DataTypes.DoubleType, false),
                    false))
            .add(DataTypes.createStructField(REJECTED_REF_LOGPS,
                    DataTypes.createArrayType(DataTypes.DoubleType, false), false))
            .add(DataTypes.createStructField(CHOSEN_REF_SUM, DataTypes.DoubleType, false))
            .add(DataTypes.createStructField(REJECTED_REF_SUM, DataTypes.DoubleType, false));

    public static final String REASON = "reason";
    public static final String DETAIL = "detail";
    public static final String SOURCE_FILE = "source_file";
    public static final String LINE = "line";
    public static final String RAW = "raw";

    /**
     * Rejects: reason id, a human-readable detail, the input file (full path), 1-based line (row
     * number for Parquet), raw text (for invalid UTF-8, the bytes decoded with U+FFFD replacements).
     */
    public static final StructType REJECTS = new StructType(new StructField[]{
            DataTypes.createStructField(REASON, DataTypes.StringType, false),
            DataTypes.createStructField(DETAIL, DataTypes.StringType, true),
            DataTypes.createStructField(SOURCE_FILE, DataTypes.StringType, false),
            DataTypes.createStructField(LINE, DataTypes.LongType, false),
            DataTypes.createStructField(RAW, DataTypes.StringType, true),
    });

    private PairSchema() {
    }

    /** A pair row in {@link #PAIRS} column order. */
    public static Row pairRow(String pairId, String split, String source, int[] prompt, int[] chosen, int[] rejected) {
        return RowFactory.create(pairId, split, source, boxed(prompt), boxed(chosen), boxed(rejected),
                prompt.length, chosen.length, rejected.length);
    }

    /** A reject row in {@link #REJECTS} column order. */
    public static Row rejectRow(String reason, String detail, String sourceFile, long line, String raw) {
        return RowFactory.create(reason, detail, sourceFile, line, raw);
    }

    /**
     * A {@link #PAIRS} row (any row holding its columns) extended to {@link #PAIRS_WITH_REFERENCE}:
     * the pair columns unchanged, then the per-token reference log-probs and their sums.
     */
    public static Row withReference(Row pair, double[] chosenRef, double[] rejectedRef) {
        Object[] values = new Object[PAIRS_WITH_REFERENCE.size()];
        for (int i = 0; i < PAIRS.size(); i++) {
            values[i] = pair.get(pair.fieldIndex(PAIRS.fields()[i].name()));
        }
        int n = PAIRS.size();
        values[n] = boxed(chosenRef);
        values[n + 1] = boxed(rejectedRef);
        values[n + 2] = sum(chosenRef);
        values[n + 3] = sum(rejectedRef);
        return RowFactory.create(values);
    }

    /**
     * The model's view of a pair row: ids, and the reference log-probs when the row has them
     * (a {@link #PAIRS_WITH_REFERENCE} row).
     */
    public static PairExample example(Row row) {
        String id = row.getString(row.fieldIndex(PAIR_ID));
        int[] prompt = ids(row, PROMPT_IDS);
        int[] chosen = ids(row, CHOSEN_IDS);
        int[] rejected = ids(row, REJECTED_IDS);
        java.util.Set<String> names = new java.util.HashSet<>(java.util.Arrays.asList(row.schema().fieldNames()));
        if (!names.contains(CHOSEN_REF_LOGPS) || !names.contains(REJECTED_REF_LOGPS)) {
            return new PairExample(id, prompt, chosen, rejected);
        }
        return new PairExample(id, prompt, chosen, rejected, doubles(row, CHOSEN_REF_LOGPS),
                doubles(row, REJECTED_REF_LOGPS));
    }

    /** Reads an array&lt;double&gt; column back into a double[]. */
    public static double[] doubles(Row row, String column) {
        List<Double> list = row.getList(row.fieldIndex(column));
        double[] out = new double[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = list.get(i);
        }
        return out;
    }

    /** The stored sum of per-token log-probs: summed in token order, so a reader recomputes it exactly. */
    public static double sum(double[] values) {
        double s = 0;
        for (double v : values) {
            s += v;
        }
        return s;
    }

    /** Reads an array&lt;int&gt; column back into an int[]. */
    public static int[] ids(Row row, String column) {
        List<Integer> list = row.getList(row.fieldIndex(column));
        int[] out = new int[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = list.get(i);
        }
        return out;
    }

    private static Double[] boxed(double[] a) {
        Double[] out = new Double[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i];
        }
        return out;
    }

    private static Integer[] boxed(int[] a) {
        Integer[] out = new Integer[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i];
        }
        return out;
    }
}
