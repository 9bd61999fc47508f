from keyhouse.cli import main

main()
