package io.sgdpo.prep;

import com.fasterxml.jackson.databind.JsonNode;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The job against a real in-process HDFS: read from hdfs://, write to hdfs://, rerun is a no-op. */
@Tag("spark")
class PrepHdfsTest {

    private static java.nio.file.Path base;
    private static MiniDFSCluster cluster;
    private static FileSystem hdfs;
    private static SparkSession spark;

    @BeforeAll
    static void start() throws IOException {
        base = Files.createTempDirectory("prep-hdfs");
        Configuration conf = new Configuration();
        conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.toString());
        cluster = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
        cluster.waitActive();
        hdfs = cluster.getFileSystem();
        spark = TestSupport.spark("local[2]");
    }

    @AfterAll
    static void stop() throws IOException {
        if (spark != null) {
            spark.stop();
        }
        if (cluster != null) {
            cluster.shutdown(true);
        }
        TestSupport.deleteRecursively(base);
    }

    @Test
    void readsAndWritesHdfsAndRerunIsANoOp() throws IOException {
        List<String> lines = PrepSharedDataTest.readLines(TestSupport.sharedData("hh-rlhf/harmless-base-test.jsonl.gz"));
        Path input = new Path(hdfs.getUri().toString() + "/data/hh/part-0.jsonl");
        try (FSDataOutputStream out = hdfs.create(input)) {
            out.write((String.join("\n", lines.subList(0, 300)) + "\n").getBytes(StandardCharsets.UTF_8));
        }
        String output = hdfs.getUri() + "/prep/hh";
        Map<String, String> conf = Map.of("tokenizer.vocabSize", "500", "prep.shardTargetBytes", "64KiB");

        PrepJob.Result first = PrepJob.run(spark, List.of(hdfs.getUri() + "/data/hh"), output, TestSupport.config(conf));
        assertEquals(PrepJob.Status.BUILT, first.status());
        assertTrue(first.output().startsWith("hdfs://"), first.output());
        JsonNode c = first.manifest().json().path("counts");
        assertEquals(300, c.path("read").asLong());
        assertEquals(c.path("read").asLong(), c.path("kept").asLong() + c.path("rejected").asLong());
        assertTrue(first.manifest().json().path("inputs").get(0).path("path").asText().startsWith("hdfs://"));

        assertTrue(hdfs.exists(new Path(output, PairSchema.MANIFEST_FILE)));
        assertTrue(hdfs.exists(new Path(output, PairSchema.VOCAB_FILE)));
        assertEquals(c.path("kept").asLong(), spark.read().parquet(output + "/pairs").count());
        assertEquals(c.path("rejected").asLong(), spark.read().parquet(output + "/rejects").count());
        long modified = hdfs.getFileStatus(new Path(output, PairSchema.MANIFEST_FILE)).getModificationTime();

        PrepJob.Result again = PrepJob.run(spark, List.of(hdfs.getUri() + "/data/hh"), output, TestSupport.config(conf));
        assertEquals(PrepJob.Status.UP_TO_DATE, again.status());
        assertEquals(modified, hdfs.getFileStatus(new Path(output, PairSchema.MANIFEST_FILE)).getModificationTime());
        for (var st : hdfs.listStatus(new Path(hdfs.getUri() + "/prep"))) {
            assertFalse(st.getPath().getName().startsWith("."), "left behind: " + st.getPath());
        }
    }
}
