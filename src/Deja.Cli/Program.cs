return Deja.Cli.DejaCli.Run(args);
