"""Stage 2, data: the rows swift trains on (synthetic, registered hub sets, translation, previews)."""
