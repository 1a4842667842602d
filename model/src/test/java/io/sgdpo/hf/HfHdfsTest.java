package io.sgdpo.hf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.checkpoint.ModelSource;
import io.sgdpo.checkpoint.TrainingState;
import java.io.File;
import java.io.IOException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.FileUtil;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole Hugging Face path on a real in-process HDFS: a folder opened through {@link ModelSource}
 * by an hdfs:// URI, exported to HDFS and imported again, and a checkpoint that keeps the folder's
 * origin. Parameters must be bit-identical to the local import's: the same bytes read through
 * another file system.
 */
class HfHdfsTest {

    @Test
    void importExportAndCheckpointOnHdfs(@TempDir File dir) throws IOException {
        Configuration conf = new Configuration();
        conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, new File(dir, "hdfs").getAbsolutePath());
        MiniDFSCluster cluster = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
        try {
            cluster.waitActive();
            FileSystem hdfs = cluster.getFileSystem();
            Path folder = new Path(hdfs.getUri().toString() + "/models/stories260K");
            FileUtil.copy(Fixtures.dir(Fixtures.STORIES), hdfs, folder, false, conf);
            HfModels.Imported local = HfModels.load(Fixtures.local(), Fixtures.path(Fixtures.STORIES), 32);

            ModelSource source = ModelSource.open(folder.toString(), conf, 32);
            assertTrue(source.huggingFace());
            assertEquals(local.identity(), source.identity());
            assertEquals(local.origin(), source.origin());
            assertArrayEquals(local.graph().params().toFloatVector(), source.graph().params().toFloatVector());

            Path exported = new Path(hdfs.getUri().toString() + "/exports/stories");
            HfModels.export(source.graph(), source.origin(), hdfs, exported, "f32");
            assertTrue(HfModels.isHfFolder(hdfs, exported));
            assertArrayEquals(local.graph().params().toFloatVector(),
                    HfModels.load(hdfs, exported, 32).graph().params().toFloatVector());

            Checkpoints checkpoints = new Checkpoints(hdfs, new Path(hdfs.getUri().toString() + "/runs/r1"));
            Path saved = checkpoints.save(source.graph(), TrainingState.initial(3), source.origin());
            ModelSource reopened = ModelSource.open(saved.toString(), conf, 32);
            assertEquals(source.origin(), reopened.origin(), "the checkpoint kept the origin");
            assertEquals(Checkpoints.identity(hdfs, saved), reopened.identity());
            assertEquals(TrainingState.initial(3), reopened.state());
            assertArrayEquals(local.graph().params().toFloatVector(), reopened.graph().params().toFloatVector());
        } finally {
            cluster.shutdown();
        }
    }
}
