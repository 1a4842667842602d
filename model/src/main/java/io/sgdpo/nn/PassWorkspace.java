package io.sgdpo.nn;

import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration;
import org.nd4j.linalg.api.memory.enums.AllocationPolicy;
import org.nd4j.linalg.api.memory.enums.LearningPolicy;
import org.nd4j.linalg.api.memory.enums.ResetPolicy;
import org.nd4j.linalg.api.memory.enums.SpillPolicy;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Where the temporaries of a pass outside DL4J's own layers live (the reference pass's logits and
 * read-out, a generation step's arrays): a workspace of the calling thread, whose memory the next
 * pass reuses. Only Java arrays (or arrays copied out) may leave it.
 *
 * <p>Allocated afresh, every ND4J array costs a native allocation, a zeroing pass and page faults
 * over memory not yet mapped, and its release waits for a garbage collection: a [mb*T, V] array
 * (32 MiB at the mid peer shape, 103 MiB at GPT-2's) took 100 ms per 32 MiB on the 2-core
 * development machine, where filling memory already mapped takes 6 ms, and nearly half of the mid
 * shape's reference pass. A generation step keeps its few ND4J arrays (the embedding rows) there
 * too. (When the step still made a hundred small ND4J arrays, the workspace took their native
 * allocations out of its profile, 10% of the samples at the mid shape to 3%, and a tenth off its
 * peak resident memory, its speed unchanged within the noise.) The thread keeps the memory of its
 * largest pass, as DL4J's own workspaces do for the layers. The workspace takes its size from the first pass and grows when a later one
 * needs more: learning "over time" without a number of cycles never sizes a workspace, and then
 * every array in it is a fresh allocation (at the GPT-2 shape the head's product took 400 ms in
 * fresh memory against 110 ms in the sized workspace).
 */
final class PassWorkspace {

    private static final WorkspaceConfiguration CONFIG = WorkspaceConfiguration.builder()
            .initialSize(0)
            .overallocationLimit(0.05)
            .policyAllocation(AllocationPolicy.OVERALLOCATE)
            .policyLearning(LearningPolicy.FIRST_LOOP)
            .policyReset(ResetPolicy.BLOCK_LEFT)
            .policySpill(SpillPolicy.REALLOCATE)
            .build();

    private PassWorkspace() {
    }

    /** Opens the calling thread's workspace of that id; close it at the end of the pass. */
    static MemoryWorkspace open(String id) {
        return Nd4j.getWorkspaceManager().getAndActivateWorkspace(CONFIG, id);
    }
}
