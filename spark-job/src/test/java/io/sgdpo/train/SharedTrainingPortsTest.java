package io.sgdpo.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.config.SgdpoConfig;
import org.junit.jupiter.api.Test;

/** SharedTraining's UDP ports: fixed ones as given, 0 for a free one, anything else an error naming the key. */
class SharedTrainingPortsTest {

    @Test
    void aFixedDriverPortIsKeptAndZeroTakesAFreeOne() {
        // No Spark environment in this JVM: the supplier answers as on the driver.
        assertEquals(40123, new SharedTrainingPorts(40123, 0).getPort());
        int free = new SharedTrainingPorts(0, 0).getPort();
        assertTrue(free > 0 && free <= 65535, "driver port " + free);
    }

    @Test
    void thePortsMustBeUdpPortsOrZero() {
        var master = SgdpoConfig.reference().getConfig("train.master");
        TrainingMasters.validate(master);
        TrainingMasters.validate(master.withValue("shared.port", ConfigValueFactory.fromAnyRef(40123)));
        ConfigurationException e = assertThrows(ConfigurationException.class, () -> TrainingMasters.validate(
                master.withValue("shared.port", ConfigValueFactory.fromAnyRef(70000))));
        assertTrue(e.getMessage().contains("train.master.shared.port"), e.getMessage());
        ConfigurationException x = assertThrows(ConfigurationException.class, () -> TrainingMasters.validate(
                ConfigFactory.parseMap(java.util.Map.of("shared.executorPort", -1)).withFallback(master)));
        assertTrue(x.getMessage().contains("train.master.shared.executorPort"), x.getMessage());
    }
}
