/** The software version written into the ledger's genesis entry and shown by `recgw --version`. */
export const VERSION = '0.1.0';
