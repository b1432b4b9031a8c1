from irreport.cli import main

main()
