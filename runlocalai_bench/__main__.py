from runlocalai_bench.cli import main

main()
