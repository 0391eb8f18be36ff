"""Running a pack: the orchestrator, the kernel, the publish gate, export and atomic publish."""
