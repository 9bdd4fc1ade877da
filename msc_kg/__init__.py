"""msc-kg: a knowledge graph of human-derived normal MSCs in anticancer therapy."""

__version__ = "0.1.0"
