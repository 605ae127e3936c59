// Loads the Reflect metadata polyfill before @peculiar/x509: the library resolves its ASN.1
// providers through tsyringe, which refuses to load without it. Every module that imports
// @peculiar/x509 imports this file first (ES modules evaluate imports in order).
import 'reflect-metadata';
