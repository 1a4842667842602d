package io.sgdpo.loss;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.sgdpo.nn.DecoderConfig;
import org.junit.jupiter.api.Test;

/** The loss and the decoder are selected and sized from config, and bad values name their key. */
class LossConfigTest {

    private static Config with(String overrides) {
        return ConfigFactory.parseString(overrides).withFallback(ConfigFactory.defaultReference()).resolve();
    }

    @Test
    void defaultsAreSgdpoWithTheAuthorsCodeDefaults() {
        PreferenceLoss loss = Losses.create(LossSpec.fromConfig(with("").getConfig("loss")));
        SgdpoLoss sgdpo = assertInstanceOf(SgdpoLoss.class, loss);
        assertEquals(0.1, sgdpo.beta());
        assertEquals(0.6, sgdpo.r1());
        assertEquals(0.9, sgdpo.r2());
        assertEquals(0.0, sgdpo.labelSmoothing());
    }

    @Test
    void everyLossIsSelectedByName() {
        assertInstanceOf(DpoLoss.class, Losses.create(LossSpec.fromConfig(with("loss.name = dpo").getConfig("loss"))));
        assertInstanceOf(CdpoLoss.class, Losses.create(LossSpec.fromConfig(
                with("loss.name = cdpo, loss.labelSmoothing = 0.1").getConfig("loss"))));
        assertInstanceOf(IpoLoss.class, Losses.create(LossSpec.fromConfig(with("loss.name = ipo").getConfig("loss"))));
        assertInstanceOf(SimpoLoss.class, Losses.create(LossSpec.fromConfig(with("loss.name = simpo").getConfig("loss"))));
        assertInstanceOf(HingeLoss.class, Losses.create(LossSpec.fromConfig(with("loss.name = hinge").getConfig("loss"))));
    }

    @Test
    void badValuesFailNamingTheKey() {
        for (String[] bad : new String[][] {{"loss.beta = -1", "loss.beta"}, {"loss.r1 = 0", "loss.r1"},
            {"loss.r2 = 1.5", "loss.r2"}, {"loss.name = kto", "loss.name"}}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> LossSpec.fromConfig(with(bad[0]).getConfig("loss")));
            assertTrue(e.getMessage().contains(bad[1]), e.getMessage());
        }
    }

    @Test
    void decoderSizesComeFromConfig() {
        DecoderConfig c = DecoderConfig.fromConfig(with("model.layers = 3").getConfig("model"), 300);
        assertEquals(new DecoderConfig(300, 64, 3, 4, 128, 0.0, 42), c);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DecoderConfig.fromConfig(with("model.heads = 5").getConfig("model"), 300));
        assertTrue(e.getMessage().contains("model.heads"), e.getMessage());
    }
}
