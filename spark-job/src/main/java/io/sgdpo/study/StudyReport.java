package io.sgdpo.study;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.typesafe.config.Config;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.output.AtomicOutput;
import io.sgdpo.study.StudyJob.DatasetResult;
import java.io.IOException;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The study's report: {@code study.md} (per data set, each loss's mean and standard deviation over
 * seeds, with findings computed from those numbers, and the pilot-ratio sweep), {@code study.json}
 * (every number, every run), {@code trajectories-NAME.png} (eval log-prob changes over training,
 * per loss) and {@code config.json} (every setting). The folder is written aside and renamed, so
 * an earlier report stays whole until the new one is complete.
 *
 * <p>Each concern has its class: {@link StudyStatistics} (metrics, means and spreads, trajectories),
 * {@link StudyFindings} (the sentences), {@link StudyMarkdown}, {@link StudyCharts} and
 * {@link StudyJson}; the code version comes from {@link io.sgdpo.prep.CodeVersion}.
 */
public final class StudyReport {

    /** The report's Markdown file. */
    public static final String MARKDOWN = "study.md";
    /** Every number of the study. */
    public static final String JSON_FILE = "study.json";
    /** Every setting the study ran with. */
    public static final String CONFIG_FILE = "config.json";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private StudyReport() {
    }

    /**
     * A finished study.
     *
     * @param minutes wall time of the invocation that wrote the report (resumed work not counted)
     */
    public record Study(String command, String codeVersion, String machine, double minutes, StudySettings settings,
                        List<DatasetResult> datasets, Config config) {
    }

    /**
     * Writes the report to {@code outDir}, replacing an earlier study report there.
     *
     * @return the Markdown file
     * @throws IOException when the folder exists and holds something other than a study report
     */
    public static Path write(Configuration conf, Study study, String outDir) throws IOException {
        Path out = new Path(outDir);
        FileSystem fs = out.getFileSystem(conf);
        AtomicOutput.requireReplaceable(fs, out, MARKDOWN, "a study report");
        AtomicOutput output = AtomicOutput.begin(fs, out);
        try {
            Path tmp = output.tmp();
            fs.mkdirs(tmp);
            for (DatasetResult d : study.datasets()) {
                StudyCharts.writeTrajectories(fs, d, study.settings().losses(), new Path(tmp,
                        StudyCharts.trajectoryFile(d)));
            }
            AtomicOutput.writeString(fs, new Path(tmp, JSON_FILE), JSON.writeValueAsString(StudyJson.json(study)));
            AtomicOutput.writeString(fs, new Path(tmp, CONFIG_FILE), JSON.writeValueAsString(
                    JSON.readTree(SgdpoConfig.renderJson(study.config(), SgdpoConfig.NAMESPACES))));
            AtomicOutput.writeString(fs, new Path(tmp, MARKDOWN), StudyMarkdown.markdown(study));
            output.commit();
        } finally {
            output.abortIfNotCommitted();
        }
        return new Path(out, MARKDOWN);
    }
}
