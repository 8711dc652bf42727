"""Zero-knowledge proofs about committed client attributes (BLS12-381, Pedersen, sigma
protocols, bit-decomposition and Bulletproofs range proofs), and the flow that attests,
requests and verifies them. The only package that does curve math. See README.md here.
"""
