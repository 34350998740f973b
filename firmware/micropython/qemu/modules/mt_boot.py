# Run by main.c at power-on: the board is the agent, nothing else (no REPL on the UART).
import board.mp_main

board.mp_main.main()
