"""The YAML scenario: schema, load shapes, prompt files, seeded sampling and open-loop arrivals."""
