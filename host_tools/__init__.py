"""Host side of microtrain: model parsing, training graph, planning, CLI."""
