"""The pure domain of vastbid: values in, decisions out, "now" passed in. No I/O, no clock reads."""
