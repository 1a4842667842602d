package io.sgdpo.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sgdpo.loss.LossSpec;
import io.sgdpo.loss.Losses;
import io.sgdpo.nn.Decoder;
import io.sgdpo.nn.DecoderConfig;
import io.sgdpo.nn.PairExample;
import io.sgdpo.nn.PairedBatch;
import io.sgdpo.nn.PairedPreferenceLoss;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Adam;

/** Checkpoints round-trip parameters and optimizer state on file:// and on a real in-process HDFS. */
class CheckpointsTest {

    private static final DecoderConfig CONFIG = new DecoderConfig(10, 8, 1, 2, 8, 0.0, 4);
    private static final LossSpec SPEC = new LossSpec();

    private static ComputationGraph trainedGraph() {
        ComputationGraph graph = Decoder.create(CONFIG, new PairedPreferenceLoss(SPEC), new Adam(1e-2), DataType.FLOAT);
        for (int step = 0; step < 3; step++) {
            graph.fit(batch(step));
        }
        return graph;
    }

    private static DataSet batch(long step) {
        PairExample p = new PairExample("p" + step, new int[] {3, 4}, new int[] {5, 6, 7}, new int[] {8, 9},
                new double[] {-2, -2, -1}, new double[] {-1.5, -1});
        return new PairedBatch(CONFIG.maxLength(), 1).build(List.of(p), Losses.create(SPEC), 1, step, DataType.FLOAT);
    }

    /** Saves, loads, and checks that outputs and a further training step are identical. */
    private static void roundTrip(FileSystem fs, Path root) throws IOException {
        ComputationGraph graph = trainedGraph();
        Checkpoints checkpoints = new Checkpoints(fs, root);
        TrainingState state = new TrainingState(3, 1, 42, 777, java.util.Map.of("runId", "r1"));
        Path saved = checkpoints.save(graph, state);
        assertEquals("step-0000000003", saved.getName());
        assertEquals(saved, checkpoints.latest().orElseThrow());

        Checkpoints.Loaded loaded = checkpoints.loadLatest().orElseThrow();
        assertEquals(state, loaded.state());
        DataSet probe = batch(9);
        // Exact on any CPU: a loaded checkpoint replays the same computation in this JVM, bit for bit.
        assertTrue(graph.output(probe.getFeatures())[0].equalsWithEps(loaded.graph().output(probe.getFeatures())[0], 0),
                "outputs differ after load");
        assertTrue(graph.getUpdater().getStateViewArray().equalsWithEps(
                loaded.graph().getUpdater().getStateViewArray(), 0), "optimizer state differs after load");
        graph.fit(probe);
        loaded.graph().fit(probe);
        assertTrue(graph.params().equalsWithEps(loaded.graph().params(), 0), "next step differs after load");
        assertEquals(64, Checkpoints.identity(fs, saved).length());
    }

    @Test
    void roundTripOnLocalFiles(@TempDir File dir) throws IOException {
        Path root = new Path(dir.toURI().toString(), "checkpoints");
        roundTrip(root.getFileSystem(new Configuration()), root);
    }

    @Test
    void roundTripOnHdfs(@TempDir File dir) throws IOException {
        Configuration conf = new Configuration();
        conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, new File(dir, "hdfs").getAbsolutePath());
        MiniDFSCluster cluster = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
        try {
            cluster.waitActive();
            FileSystem fs = cluster.getFileSystem();
            Path root = new Path(fs.getUri().toString() + "/runs/r1/checkpoints");
            assertTrue(root.toString().startsWith("hdfs://"));
            roundTrip(fs, root);
        } finally {
            cluster.shutdown();
        }
    }

    /** An imported model's origin files travel with its checkpoint; other checkpoints have none. */
    @Test
    void originIsKeptWithTheCheckpoint(@TempDir File dir) throws IOException {
        Path root = new Path(dir.toURI().toString());
        FileSystem fs = root.getFileSystem(new Configuration());
        Checkpoints checkpoints = new Checkpoints(fs, root);
        java.util.SortedMap<String, byte[]> files = new java.util.TreeMap<>();
        files.put("config.json", "{\"model_type\": \"llama\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        files.put("tokenizer.json", new byte[] {1, 2, 3});
        io.sgdpo.hf.HfOrigin origin = new io.sgdpo.hf.HfOrigin(files);
        Path with = checkpoints.save(trainedGraph(), new TrainingState(5, 0, 1, 1, java.util.Map.of()), origin);
        assertEquals(origin, Checkpoints.load(fs, with).origin());
        assertTrue(fs.isFile(new Path(new Path(with, Checkpoints.ORIGIN), "tokenizer.json")));
        Path without = checkpoints.save(trainedGraph(), new TrainingState(6, 0, 1, 1, java.util.Map.of()));
        assertEquals(null, Checkpoints.load(fs, without).origin());
        assertEquals(without, checkpoints.latest().orElseThrow());
    }

    @Test
    void partialCheckpointsAreNeverLatest(@TempDir File dir) throws IOException {
        Path root = new Path(dir.toURI().toString());
        FileSystem fs = root.getFileSystem(new Configuration());
        Checkpoints checkpoints = new Checkpoints(fs, root);
        assertTrue(checkpoints.latest().isEmpty());
        Path good = checkpoints.save(trainedGraph(), TrainingState.initial(1));
        // what a crash leaves: a temporary directory, and a final-named directory missing its state
        fs.mkdirs(new Path(root, "_tmp-step-0000000009-crashed"));
        try (OutputStream out = fs.create(new Path(new Path(root, "_tmp-step-0000000009-crashed"), Checkpoints.MODEL))) {
            out.write(new byte[] {1, 2, 3});
        }
        Path halfWritten = new Path(root, "step-0000000007");
        fs.mkdirs(halfWritten);
        fs.create(new Path(halfWritten, Checkpoints.MODEL)).close();
        assertEquals(good, checkpoints.latest().orElseThrow());
        IOException e = assertThrows(IOException.class, () -> Checkpoints.load(fs, halfWritten));
        assertTrue(e.getMessage().contains("not a complete checkpoint"), e.getMessage());
        assertFalse(Files.list(dir.toPath()).anyMatch(p -> p.getFileName().toString().startsWith("_tmp")
                && !p.getFileName().toString().endsWith("crashed")), "save left a temporary directory");
    }

    @Test
    void saveIsAtomicWhenWritingFails(@TempDir File dir) throws IOException {
        Path root = new Path(dir.toURI().toString());
        FileSystem local = root.getFileSystem(new Configuration());
        Checkpoints good = new Checkpoints(local, root);
        Path first = good.save(trainedGraph(), new TrainingState(1, 0, 1, 1, java.util.Map.of()));
        String before = Checkpoints.identity(local, first);

        Checkpoints failing = new Checkpoints(new FailingFileSystem(local), root);
        IOException e = assertThrows(IOException.class,
                () -> failing.save(trainedGraph(), new TrainingState(2, 0, 1, 1, java.util.Map.of())));
        assertTrue(e.getMessage().contains("disk full"), e.getMessage());
        assertEquals(first, good.latest().orElseThrow(), "a failed save must not become latest");
        assertEquals(before, Checkpoints.identity(local, first));
        assertFalse(Files.list(dir.toPath()).anyMatch(p -> p.getFileName().toString().startsWith("_tmp")),
                "failed save left its temporary directory");
    }

    /** A file system whose model files break after 4 KiB, as a full disk or a lost datanode would. */
    private static final class FailingFileSystem extends org.apache.hadoop.fs.FilterFileSystem {
        FailingFileSystem(FileSystem fs) {
            super(fs);
        }

        @Override
        public org.apache.hadoop.fs.FSDataOutputStream create(Path f, boolean overwrite) throws IOException {
            OutputStream real = super.create(f, overwrite);
            if (!f.getName().equals(Checkpoints.MODEL)) {
                return new org.apache.hadoop.fs.FSDataOutputStream(real, null);
            }
            return new org.apache.hadoop.fs.FSDataOutputStream(new OutputStream() {
                private long written;

                @Override
                public void write(int b) throws IOException {
                    if (++written > 4096) {
                        real.close();
                        throw new IOException("disk full");
                    }
                    real.write(b);
                }
            }, null);
        }
    }
}
