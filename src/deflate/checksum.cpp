// placeholder: filled in by the DEFLATE engine work
