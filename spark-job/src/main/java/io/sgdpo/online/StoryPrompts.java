package io.sgdpo.online;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Story openings in the domain of a children's-story model: one of a few opening sentences filled
 * with a name, an animal and a place (5 x 20 x 12 x 12 = 14,400 distinct prompts), in an order
 * shuffled by a seed, so that the first n are a train set and the next m a disjoint held-out set.
 */
public final class StoryPrompts {

    private static final String[] OPENINGS = {
        "Once upon a time, %s the %s went to the %s.",
        "One day, %s the %s went to the %s.",
        "%s the %s lived near the %s.",
        "One sunny morning, %s the %s walked to the %s.",
        "Every day, %s the %s played at the %s.",
    };
    private static final String[] NAMES = {"Lily", "Tom", "Sue", "Ben", "Mia", "Max", "Anna", "Sam", "Lucy", "Tim",
        "Jack", "Emma", "Leo", "Zoe", "Bob", "Kate", "Jim", "Amy", "Dan", "Sara"};
    private static final String[] ANIMALS = {"cat", "dog", "bird", "bunny", "frog", "bear", "duck", "fox", "mouse",
        "owl", "pig", "lion"};
    private static final String[] PLACES = {"park", "forest", "garden", "beach", "river", "lake", "farm", "hill",
        "town", "school", "pond", "zoo"};

    private StoryPrompts() {
    }

    /** Every prompt the templates make. */
    public static int size() {
        return OPENINGS.length * NAMES.length * ANIMALS.length * PLACES.length;
    }

    /**
     * The first {@code n} prompts of the order {@code seed} shuffles them into.
     *
     * @throws IllegalArgumentException when n exceeds {@link #size()}
     */
    public static List<String> shuffled(long seed, int n) {
        if (n < 0 || n > size()) {
            throw new IllegalArgumentException("the story templates make " + size() + " prompts, not " + n);
        }
        List<String> all = new ArrayList<>(size());
        for (String opening : OPENINGS) {
            for (String name : NAMES) {
                for (String animal : ANIMALS) {
                    for (String place : PLACES) {
                        all.add(String.format(opening, name, animal, place));
                    }
                }
            }
        }
        Collections.shuffle(all, new Random(seed));
        return all.subList(0, n);
    }
}
