from mlops.cli import main

main(prog_name="mlops")
