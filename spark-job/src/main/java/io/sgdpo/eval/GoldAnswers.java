package io.sgdpo.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sgdpo.config.ConfigurationException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * Prompts with a programmatic gold answer: a JSON Lines file of {@code {"prompt": ..., "answer": ...}}
 * (written, for instance, by the demo's generated task). A response is correct when it equals the
 * answer after surrounding white space is stripped: exact match, the gold metric of greedy decoding.
 */
public record GoldAnswers(String source, List<Item> items) {

    /** One prompt and its answer. */
    public record Item(String prompt, String answer) {
    }

    /** Whether a generated response is the gold answer. */
    public static boolean correct(String response, String answer) {
        return response.strip().equals(answer.strip());
    }

    /** Reads the file; a malformed line is an error naming the file and line. */
    public static GoldAnswers read(String file, Configuration conf) throws IOException {
        ObjectMapper json = new ObjectMapper();
        Path path = new Path(file);
        var fs = path.getFileSystem(conf);
        if (!fs.exists(path)) {
            throw new ConfigurationException("gold answers file not found: " + file);
        }
        List<Item> items = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(fs.open(path), StandardCharsets.UTF_8))) {
            int lineNo = 0;
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                lineNo++;
                if (line.isBlank()) {
                    continue;
                }
                JsonNode node;
                try {
                    node = json.readTree(line);
                } catch (JsonProcessingException e) {
                    throw new ConfigurationException(file + ":" + lineNo + ": not JSON: " + e.getOriginalMessage());
                }
                if (node == null || !node.path("prompt").isTextual() || !node.path("answer").isTextual()
                        || node.path("prompt").textValue().isEmpty()) {
                    throw new ConfigurationException(file + ":" + lineNo
                            + ": expected {\"prompt\": non-empty string, \"answer\": string}");
                }
                items.add(new Item(node.get("prompt").textValue(), node.get("answer").textValue()));
            }
        }
        if (items.isEmpty()) {
            throw new ConfigurationException("gold answers file " + file + " holds no prompts");
        }
        return new GoldAnswers(file, List.copyOf(items));
    }
}
