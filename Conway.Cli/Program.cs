using Conway.Cli.CommandLine;

// conway <verb> [options]: the project's offline tools; `conway --help` lists the verbs, `conway <verb> --help` the options.
return ConwayCli.Run(args, Console.Out, Console.Error);
